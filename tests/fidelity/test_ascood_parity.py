"""ASCOOD parity with the official code.

Reference: sudarshanregmi/ASCOOD @f35178912a152f6e3f999cc912d01ec056826ec2, ``openood/trainers/ascood_trainer.py``
(``get_saliency_map``, ``gradient_ood``, ``shuffle_ood``, ``get_ood_sample``, ``train_epoch``),
``openood/postprocessors/iodin_postprocessor.py`` (``get_mask``, ``postprocess``), ``openood/pipelines/
train_pipeline.py`` (epochs counted 1..E) and ``openood/preprocessors/transform.py`` (``normalization_dict``).
Written out below from reading those files (nothing copied). The reference's network receives *normalised*
tensors: the saliency is ``d logit_y / d x_n`` in eval mode, the gradient outlier is ``x_n + alpha g_n`` on the
top ``int(C H W p_inv)`` elements of ``|g_n|``, the shuffle permutes the top ``int(H W p_inv)`` positions ranked by
``sum_c exp(g_n)``, the gaussian outlier is ``alpha N(0, I)`` in normalised units; one forward over
``cat(x_n, x_n_ood)`` and ``CE + w KLDiv(batchmean)(log_softmax, uniform)``; alpha = ``alpha_min + (alpha_max -
alpha_min)(1 - e/E)`` for e = 1..E; i-ODIN perturbs the argmax of ``|g_n|`` by ``-noise * (+-1) / std_c`` in
normalised units. Our network normalises inside, so our default (``outlier_space=normalised``) is compared after
mapping its pixel outputs through ``(x - mean) / std``, with ImageNet statistics (where raw and normalised differ)
and with mean 0 / std 1 (the digits world).
"""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wb_oodtrain import ascood
from wb_oodtrain.network import build_network

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
UNIT = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
SKEWED = ((0.5, 0.4, 0.3), (0.1, 0.5, 1.0))  # channel stds far apart: the normalised argmax differs from the raw one


def _net(stats, seed=0, sigma=0.5, channels=3):
    torch.manual_seed(seed)
    arch = {"backbone": "digits-cnn", "width": 4, "in_channels": channels, "num_classes": 5,
            "mean": stats[0][:channels], "std": stats[1][:channels], "head": "standardised", "sigma": sigma}
    net = build_network(arch).train()
    for m in net.modules():  # non-trivial BatchNorm running statistics for the eval-mode saliency
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return net


def ref_forward(net, x_n):
    """The reference's network: it takes normalised tensors (ours normalises inside, so skip that step)."""
    return net.fc(net.encoder(x_n))


def _normalise(net, x):
    return (x - net.mean) / net.std


def ref_saliency(net, x_n, y):
    net.eval()
    x_n = x_n.clone().requires_grad_(True)
    ref_forward(net, x_n)[torch.arange(len(x_n)), y].sum().backward()
    net.zero_grad()
    net.train()
    return x_n.grad.detach()


def ref_gradient_ood(x_n, g, alpha, p_inv):
    b, c, h, w = x_n.shape
    top = torch.topk(g.abs().view(b, -1), int(c * h * w * p_inv), dim=1).indices
    mask = torch.zeros(b, c * h * w).scatter(1, top, 1.0).view_as(x_n)
    return x_n + g * alpha * mask


def ref_shuffle_ood(x_n, g, p_inv, order):
    b, c, h, w = x_n.shape
    k = int(h * w * p_inv)
    top = torch.topk(g.exp().sum(1).view(b, -1), k, dim=1).indices
    flat = x_n.reshape(b, c, -1)
    picked = torch.gather(flat, 2, top[:, None].expand(-1, c, -1))
    shuffled = torch.gather(picked, 2, order[:, None].expand(-1, c, -1))
    return flat.clone().scatter(2, top[:, None].expand(-1, c, -1), shuffled).view_as(x_n)


def _batch(n, channels, hw, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, hw, hw, generator=g), torch.randint(0, 5, (n,), generator=g), g


SIZES = [(4, 3, 16), (9, 3, 12), (16, 1, 20)]


@pytest.mark.parametrize("stats", [IMAGENET, UNIT], ids=["imagenet", "unit"])
@pytest.mark.parametrize("n,channels,hw", SIZES)
@pytest.mark.parametrize("alpha,p_inv", [(300.0, 0.1), (0.5, 0.25)])
def test_gradient_outliers_match_the_reference_in_normalised_units(stats, n, channels, hw, alpha, p_inv):
    net = _net(stats, channels=channels)
    x, y, g = _batch(n, channels, hw, 0)
    out, _ = ascood.synthesise(net, x, y, "gradient", alpha, p_inv, g)
    x_n = _normalise(net, x)
    want = ref_gradient_ood(x_n, ref_saliency(net, x_n, y), alpha, p_inv)
    got = _normalise(net, out)
    scale = float(want.abs().max())
    assert float((got - want).abs().max()) <= 2e-6 * max(scale, 1.0)


@pytest.mark.parametrize("stats", [IMAGENET, UNIT], ids=["imagenet", "unit"])
@pytest.mark.parametrize("n,channels,hw", SIZES)
def test_shuffle_and_gaussian_outliers_match_the_reference(stats, n, channels, hw):
    net = _net(stats, channels=channels)
    x, y, g = _batch(n, channels, hw, 1)
    state = g.get_state()
    out, _ = ascood.synthesise(net, x, y, "shuffle", 1.0, 0.15, g)
    g.set_state(state)
    order = torch.argsort(torch.rand(n, int(hw * hw * 0.15), generator=g), dim=1)
    x_n = _normalise(net, x)
    want = ref_shuffle_ood(x_n, ref_saliency(net, x_n, y), 0.15, order)
    torch.testing.assert_close(_normalise(net, out), want, atol=1e-6, rtol=0)
    state = g.get_state()
    out, _ = ascood.synthesise(net, x, y, "gaussian", 0.1, 0.15, g)
    g.set_state(state)
    torch.testing.assert_close(_normalise(net, out), 0.1 * torch.randn(x.shape, generator=g), atol=1e-6, rtol=0)


def step_differences(ood_type: str) -> tuple[float, float, float]:
    """|loss - reference|, max |parameter grad - reference| and the reference's largest |grad| for one step."""
    net = _net(IMAGENET, seed=3)
    ref = _net(IMAGENET, seed=3)
    x, y, g = _batch(12, 3, 16, 2)
    p = SimpleNamespace(alpha_max=300.0, alpha_min=30.0, ood_type=ood_type, p_inv=0.1, w=1.0, sigma=0.5,
                        fc_lr_factor=1.0, outlier_space="normalised")
    method = ascood.ASCOODMethod(p, 5)
    state = g.get_state()
    loss, logs = method.loss(net, net, x, y, g, 4, 10)
    loss.backward()
    # reference: epoch_idx 5 of 10 (our 0-based 4), outliers in normalised units, one forward over both halves
    alpha = (300.0 - 30.0) * (1 - 5 / 10) + 30.0
    assert logs["alpha"] == alpha
    g.set_state(state)
    x_n = _normalise(ref, x)
    if ood_type == "gaussian":
        x_ood = alpha * torch.randn(x.shape, generator=g)
    else:
        sal = ref_saliency(ref, x_n, y)
        if ood_type == "gradient":
            x_ood = ref_gradient_ood(x_n, sal, alpha, 0.1)
        else:
            order = torch.argsort(torch.rand(12, int(16 * 16 * 0.1), generator=g), dim=1)
            x_ood = ref_shuffle_ood(x_n, sal, 0.1, order)
    logit = ref_forward(ref, torch.cat([x_n, x_ood]))
    uniform = torch.full((12, 5), 1 / 5)
    want = F.cross_entropy(logit[:12], y) + 1.0 * torch.nn.KLDivLoss(reduction="batchmean")(
        F.log_softmax(logit[12:], 1), uniform)
    want.backward()
    grad_diff = max(float((a.grad - b.grad).abs().max()) for a, b in zip(net.parameters(), ref.parameters()))
    grad_scale = max(float(b.grad.abs().max()) for b in ref.parameters())
    return abs(loss.item() - want.item()), grad_diff, grad_scale


@pytest.mark.parametrize("ood_type", ["gradient", "shuffle", "gaussian"])
def test_training_step_matches_the_reference_loss_and_gradients(ood_type):
    loss_diff, grad_diff, grad_scale = step_differences(ood_type)
    assert loss_diff < 1e-5 and grad_diff < 1e-5 * max(1.0, grad_scale), (loss_diff, grad_diff, grad_scale)


def test_alpha_schedule_counts_epochs_from_one_and_ends_at_alpha_min():
    for epochs in (1, 3, 15, 100):
        for e in range(1, epochs + 1):
            want = (300.0 - 30.0) * (1 - e / epochs) + 30.0
            assert ascood.alpha_at(e - 1, epochs, 300.0, 30.0) == pytest.approx(want, abs=1e-9)
    assert ascood.alpha_at(14, 15, 300.0, 30.0) == pytest.approx(30.0)


def ref_iodin(net, x_n, temperature, noise, std):
    x_n = x_n.clone().requires_grad_(True)
    out = ref_forward(net, x_n)
    loss = F.cross_entropy(out / temperature, out.detach().argmax(1))
    loss.backward()
    grad = x_n.grad.detach()
    b = len(grad)
    mask = torch.zeros(b, grad[0].numel()).scatter(1, grad.abs().view(b, -1).argmax(1, keepdim=True), 1.0)
    step = (torch.ge(grad, 0).float() - 0.5) * 2 / torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        logits = ref_forward(net, x_n.detach() - noise * step * mask.view_as(grad)) / temperature
    return torch.softmax(logits, 1).max(1).values


@pytest.mark.parametrize("stats", [IMAGENET, UNIT, SKEWED], ids=["imagenet", "unit", "skewed"])
@pytest.mark.parametrize("temperature,noise", [(1000.0, 0.0014), (1.0, 0.05), (10.0, 0.3)])
def test_i_odin_matches_the_reference_choice_of_element_and_step(stats, temperature, noise):
    net = _net(stats, seed=4).eval()
    images = np.random.default_rng(0).random((10, 3, 16, 16)).astype(np.float32)
    got = ascood.i_odin(net, images, temperature, noise, 4, "cpu")
    want = ref_iodin(net, _normalise(net, torch.from_numpy(images)), temperature, noise, stats[1]).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_raw_space_option_is_about_twenty_times_larger_with_imagenet_statistics():
    net = _net(IMAGENET)
    x, y, g = _batch(8, 3, 16, 5)
    ref_out, _ = ascood.synthesise(net, x, y, "gradient", 1.0, 0.1, g)
    raw_out, _ = ascood.synthesise(net, x, y, "gradient", 1.0, 0.1, g, "raw")
    ratio = float((raw_out - x).norm() / (ref_out - x).norm())
    assert 15 < ratio < 25, ratio
    with pytest.raises(ValueError, match="outlier_space"):
        ascood.synthesise(net, x, y, "gradient", 1.0, 0.1, g, "pixels")
    # with mean 0 / std 1 (the digits world) both spaces give the same outliers
    unit = _net(UNIT)
    a, _ = ascood.synthesise(unit, x, y, "gradient", 300.0, 0.1, g)
    b, _ = ascood.synthesise(unit, x, y, "gradient", 300.0, 0.1, g, "raw")
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("variant,want", [
    ("cifar10", ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))),
    ("cifar100", ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))),
])
def test_cifar_inputs_are_normalised_with_cifar_statistics(tmp_path, variant, want):
    from wb_oodtrain.data import load_data
    from wb_oodtrain.params import DataParams

    rng = np.random.default_rng(0)
    folder = tmp_path / variant
    folder.mkdir()
    key = b"labels" if variant == "cifar10" else b"fine_labels"
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] if variant == "cifar10" else ["train", "test"]
    for name in files:
        doc = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), key: [0, 1, 0, 1]}
        (folder / name).write_bytes(pickle.dumps(doc, protocol=2))
    data = load_data(DataParams(dataset=variant, cifar_dir=str(folder), image_size=8))
    assert (tuple(data.mean), tuple(data.std)) == want
