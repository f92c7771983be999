"""MixOE method checks with known answers (method notes, section 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wb_oodtrain import mixoe


def test_soft_target_rows_sum_to_one_and_interpolate_onehot_and_uniform():
    y = torch.tensor([0, 3, 5, 2])
    lam = torch.tensor([1.0, 0.0, 0.3, 0.75])
    t = mixoe.soft_targets(y, lam, 6)
    torch.testing.assert_close(t.sum(1), torch.ones(4))
    torch.testing.assert_close(t[0], F.one_hot(torch.tensor(0), 6).float())
    torch.testing.assert_close(t[1], torch.full((6,), 1 / 6))
    assert abs(float(t[2, 5]) - (0.3 + 0.7 / 6)) < 1e-6


def test_lambda_one_is_cross_entropy_and_lambda_zero_is_outlier_exposure():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 6, generator=gen)
    y = torch.randint(0, 6, (8,), generator=gen)
    ce = mixoe.soft_cross_entropy(logits, mixoe.soft_targets(y, torch.ones(8), 6))
    torch.testing.assert_close(ce, F.cross_entropy(logits, y))
    oe = mixoe.soft_cross_entropy(logits, mixoe.soft_targets(y, torch.zeros(8), 6))
    torch.testing.assert_close(oe, -F.log_softmax(logits, 1).mean())


def test_soft_cross_entropy_is_at_least_the_target_entropy_with_equality_at_the_target():
    t = mixoe.soft_targets(torch.tensor([1]), torch.tensor([0.4]), 4)
    entropy = -(t * t.log()).sum()
    at_target = mixoe.soft_cross_entropy(t.log(), t)
    torch.testing.assert_close(at_target, entropy)
    elsewhere = mixoe.soft_cross_entropy(torch.tensor([[2.0, -1.0, 0.5, 0.0]]), t)
    assert float(elsewhere) > float(entropy) + 1e-3


def test_cutmix_lambda_equals_the_fraction_of_id_pixels_kept():
    gen = torch.Generator().manual_seed(1)
    x, x_out = torch.zeros(32, 1, 20, 24), torch.ones(32, 1, 20, 24)
    lam = mixoe.sample_lambda(2.0, 32, gen, per_sample=True)
    mixed, kept = mixoe.cutmix(x, x_out, lam, gen, box="per-sample")
    torch.testing.assert_close(1.0 - mixed.mean(dim=(1, 2, 3)), kept)
    assert float((kept - lam).abs().max()) < 0.5 and float(kept.std()) > 0
    mixed, kept = mixoe.cutmix(x, x_out, lam, gen)  # the reference: one box, one lambda for the batch
    torch.testing.assert_close(1.0 - mixed.mean(dim=(1, 2, 3)), kept)
    assert torch.all(kept == kept[0]) and float((kept[0] - lam[0]).abs()) < 0.5


def test_mixup_endpoints_and_batch_lambda():
    gen = torch.Generator().manual_seed(2)
    x, x_out = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(mixoe.mixup(x, x_out, torch.ones(4)), x)
    torch.testing.assert_close(mixoe.mixup(x, x_out, torch.zeros(4)), x_out)
    lam = mixoe.sample_lambda(1.0, 5, gen)
    assert torch.all(lam == lam[0]) and 0 < float(lam[0]) < 1


def _train_blobs(beta: float) -> tuple[torch.nn.Module, torch.Tensor]:
    """3 Gaussian blobs in 2-D, outliers uniform over a large box, a small MLP (method notes' CPU test)."""
    from types import SimpleNamespace

    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    y = torch.randint(0, 3, (600,), generator=gen)
    x = centres[y] + 0.4 * torch.randn(600, 2, generator=gen)
    outliers = torch.rand(2000, 2, generator=gen) * 16 - 8
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 3))
    method = mixoe.MixOEMethod(SimpleNamespace(mix_op="mixup", alpha=1.0, beta=beta, forward_passes="two",
                                               cutmix_box="batch"), outliers, 3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(300):
        idx = torch.randint(0, 600, (64,), generator=gen)
        loss, _ = method.loss(net, net, x[idx], y[idx], gen, 0, 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, centres


def test_mixoe_lowers_confidence_off_the_data_manifold_compared_with_cross_entropy():
    from sklearn.metrics import roc_auc_score

    gen = torch.Generator().manual_seed(5)
    aurocs = {}
    for beta in (0.0, 5.0):
        net, centres = _train_blobs(beta)
        y = torch.randint(0, 3, (300,), generator=gen)
        x_id = centres[y] + 0.4 * torch.randn(300, 2, generator=gen)
        far = torch.rand(3000, 2, generator=gen) * 16 - 8
        far = far[torch.cdist(far, centres).min(1).values > 3.0][:300]
        with torch.no_grad():
            conf_id = torch.softmax(net(x_id), 1).max(1).values
            conf_far = torch.softmax(net(far), 1).max(1).values
        aurocs[beta] = roc_auc_score([1] * len(conf_id) + [0] * len(conf_far), torch.cat([conf_id, conf_far]))
    assert aurocs[5.0] > aurocs[0.0] + 0.05 and aurocs[5.0] > 0.9, aurocs
