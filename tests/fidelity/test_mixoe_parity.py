"""MixOE parity with the official code.

Reference: zjysteven/MixOE @12221477ced008e8327b3c21d8ccab0e1948ebaf, ``train/train_mixoe.py`` (``rand_bbox``,
``SoftCE`` and the body of ``train()``). Written out below from reading that file (nothing copied): one
``lambda ~ Beta(alpha, alpha)`` per batch; cutmix draws one box per batch, extents ``int(size * sqrt(1 - lambda))``
along each image axis, centre uniform, corners ``centre -/+ extent // 2`` clipped to the image, the outlier box is
pasted into every ID image and lambda is reset to the kept fraction; soft targets ``lambda onehot + (1 - lambda)/C``;
the loss is ``CE(f(x), y) + beta * SoftCE(f(x_mixed), t)`` with ``f`` called twice, so BatchNorm (train mode)
normalises the clean and the mixed batch each with its own statistics and updates its running statistics twice.
Our default (``forward_passes=two``, ``cutmix_box=batch``) is compared with it: boxes for every centre and several
image sizes and lambdas, mixed images and lambdas, loss, parameter gradients and BatchNorm running statistics.
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wb_oodtrain import mixoe


def ref_box(size: tuple[int, ...], lam: float, c_first: int, c_second: int) -> tuple[int, int, int, int]:
    """Box along axis 2 (first) and axis 3 (second) of an NCHW tensor, as the reference's rand_bbox sizes it."""
    n_first, n_second = size[2], size[3]
    ratio = np.sqrt(1.0 - lam)
    ext_first, ext_second = int(n_first * ratio), int(n_second * ratio)
    a1 = int(np.clip(c_first - ext_first // 2, 0, n_first))
    a2 = int(np.clip(c_first + ext_first // 2, 0, n_first))
    b1 = int(np.clip(c_second - ext_second // 2, 0, n_second))
    b2 = int(np.clip(c_second + ext_second // 2, 0, n_second))
    return a1, a2, b1, b2


def ref_cutmix(x, x_out, lam, c_first, c_second):
    a1, a2, b1, b2 = ref_box(tuple(x.shape), lam, c_first, c_second)
    mixed = x.clone()
    mixed[:, :, a1:a2, b1:b2] = x_out[:, :, a1:a2, b1:b2]
    return mixed, 1 - (a2 - a1) * (b2 - b1) / (x.shape[-1] * x.shape[-2])


def ref_loss(net, x, y, mixed, lam, beta, num_classes):
    onehot = torch.zeros(len(x), num_classes).scatter_(1, y.view(-1, 1), 1)
    id_loss = F.cross_entropy(net(x), y)
    soft = lam * onehot + (1 - lam) * torch.ones(len(x), num_classes) / num_classes
    mixed_loss = torch.mean(torch.sum(-soft * net(mixed).log_softmax(-1), -1))
    return id_loss + beta * mixed_loss


@pytest.mark.parametrize("shape", [(20, 24), (32, 32), (7, 9), (1, 5)])
def test_batch_box_matches_the_reference_for_every_centre(shape):
    h, w = shape
    worst = 0
    for lam in np.r_[0.0, np.linspace(0.01, 0.99, 37), 1.0]:
        for row in range(h):
            for col in range(w):
                got = mixoe.batch_box(h, w, float(lam), row, col)
                want = ref_box((1, 1, h, w), float(lam), row, col)
                worst = max(worst, max(abs(a - b) for a, b in zip(got, want)))
    assert worst == 0


@pytest.mark.parametrize("n,c,h,w", [(8, 1, 32, 32), (5, 3, 20, 24), (16, 1, 9, 7)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_cutmix_pastes_one_reference_box_and_returns_its_lambda(n, c, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    x, x_out = torch.rand(n, c, h, w, generator=g), torch.rand(n, c, h, w, generator=g)
    lam = mixoe.sample_lambda(2.0, n, g)
    state = g.get_state()
    mixed, kept = mixoe.cutmix(x, x_out, lam, g)
    # the same two centre draws (first image axis, then second) from the same generator state
    g2 = torch.Generator()
    g2.set_state(state)
    c_first, c_second = int(torch.randint(h, (1,), generator=g2)), int(torch.randint(w, (1,), generator=g2))
    want, want_lam = ref_cutmix(x, x_out, float(lam[0]), c_first, c_second)
    torch.testing.assert_close(mixed, want, rtol=0, atol=0)
    np.testing.assert_allclose(kept.numpy(), np.full(n, want_lam, dtype=np.float32), rtol=0, atol=1e-7)


def _net(c: int, classes: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(c, 6, 3, padding=1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, classes))


def _step(op: str, passes: str, box: str, n: int, c: int, hw: int, classes: int, seed: int):
    """Our MixOEMethod.loss and the reference on the same batch, outliers and draws."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(n, c, hw, hw, generator=g), torch.randint(0, classes, (n,), generator=g)
    outliers = torch.rand(3 * n, c, hw, hw, generator=g)
    params = SimpleNamespace(mix_op=op, alpha=1.0 if op == "mixup" else 2.0, beta=5.0, forward_passes=passes,
                             cutmix_box=box)
    net = _net(c, classes).train()
    ref_net = copy.deepcopy(net)
    method = mixoe.MixOEMethod(params, outliers, classes)
    state = g.get_state()
    loss, logs = method.loss(net, net, x, y, g, 0, 1)
    loss.backward()
    # the reference on the same outliers, lambda and box (re-drawn from the same generator state)
    g.set_state(state)
    x_out = outliers[torch.randint(len(outliers), (n,), generator=g)]
    lam = float(mixoe.sample_lambda(params.alpha, n, g)[0])
    if op == "cutmix":
        c1, c2 = int(torch.randint(hw, (1,), generator=g)), int(torch.randint(hw, (1,), generator=g))
        mixed, lam = ref_cutmix(x, x_out, lam, c1, c2)
    else:
        mixed = lam * x + (1 - lam) * x_out
    want = ref_loss(ref_net, x, y, mixed, lam, params.beta, classes)
    want.backward()
    grad_diff = max(float((p.grad - q.grad).abs().max()) for p, q in zip(net.parameters(), ref_net.parameters()))
    bn, ref_bn = net[1], ref_net[1]
    stat_diff = max(float((bn.running_mean - ref_bn.running_mean).abs().max()),
                    float((bn.running_var - ref_bn.running_var).abs().max()))
    return abs(loss.item() - want.item()), grad_diff, stat_diff, abs(logs["lambda"] - lam)


CASES = [("mixup", 8, 1, 16, 6), ("cutmix", 8, 1, 16, 6), ("mixup", 32, 3, 12, 10), ("cutmix", 17, 3, 20, 4)]


@pytest.mark.parametrize("op,n,c,hw,classes", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_default_step_matches_the_reference_loss_gradients_and_batchnorm_statistics(op, n, c, hw, classes, seed):
    loss_d, grad_d, stat_d, lam_d = _step(op, "two", "batch", n, c, hw, classes, seed)
    assert loss_d < 1e-5 and grad_d < 1e-5 and stat_d < 1e-6 and lam_d < 1e-6, (loss_d, grad_d, stat_d, lam_d)


def test_one_forward_pass_option_shares_batchnorm_statistics_and_changes_the_step():
    loss_d, grad_d, stat_d, _ = _step("mixup", "one", "batch", 32, 3, 12, 10, 0)
    assert loss_d > 1e-3 and grad_d > 1e-4 and stat_d > 1e-4, (loss_d, grad_d, stat_d)


def test_per_sample_box_option_draws_one_box_per_image():
    g = torch.Generator().manual_seed(0)
    x, x_out = torch.zeros(16, 1, 32, 32), torch.ones(16, 1, 32, 32)
    lam = mixoe.sample_lambda(2.0, 16, g)
    mixed, kept = mixoe.cutmix(x, x_out, lam, g, box="per-sample")
    masks = mixed[:, 0] > 0.5
    assert len({tuple(m.nonzero()[0].tolist()) for m in masks if m.any()}) > 1  # boxes at different places
    side = round(32 * math.sqrt(1 - float(lam[0])))
    assert int(masks.sum((1, 2)).max()) <= side * side
    loss_d, _, _, _ = _step("cutmix", "two", "per-sample", 8, 1, 16, 6, 1)
    assert loss_d > 1e-4
    with pytest.raises(ValueError, match="cutmix_box"):
        mixoe.cutmix(x, x_out, lam, g, box="none")
