"""ASCOOD method checks with known answers (method notes, section 3)."""

from __future__ import annotations

import numpy as np
import torch

from wb_oodtrain import ascood
from wb_oodtrain.network import StandardisedLinear


def _tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 8 * 8, 5))


def test_standardised_features_have_row_mean_zero_and_std_sigma():
    head = StandardisedLinear(32, 4, sigma=0.5)
    h = torch.randn(10, 32) * 7 + 3
    z = head.standardise(h)
    torch.testing.assert_close(z.mean(1), torch.zeros(10), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(1), torch.full((10,), 0.5), atol=1e-4, rtol=0)


def test_shuffle_keeps_each_images_pixel_multiset_and_changes_at_most_p_inv_positions():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 8, 8, generator=gen)
    grad = torch.randn(6, 3, 8, 8, generator=gen)
    out = ascood.shuffle_outliers(x, grad, p_inv=0.25, gen=gen)
    for i in range(6):
        torch.testing.assert_close(out[i].flatten().sort().values, x[i].flatten().sort().values)
        changed = (out[i] != x[i]).any(0).sum()
        assert 0 < int(changed) <= int(8 * 8 * 0.25)


def test_gradient_outliers_touch_at_most_p_inv_elements_and_raise_the_true_logit_for_small_alpha():
    net = _tiny_net()
    x = torch.rand(4, 3, 8, 8)
    y = torch.tensor([0, 1, 2, 3])
    grad = ascood.saliency(net, x, y)
    out = ascood.gradient_outliers(x, grad, alpha=1e-2, p_inv=0.1)
    assert torch.all((out != x).reshape(4, -1).sum(1) <= int(3 * 8 * 8 * 0.1))
    with torch.no_grad():
        before, after = net(x).gather(1, y[:, None]), net(out).gather(1, y[:, None])
    assert torch.all(after > before)


def test_kl_to_uniform_is_zero_exactly_at_uniform_and_positive_elsewhere():
    assert float(ascood.kl_to_uniform(torch.zeros(3, 6))) == 0.0
    assert float(ascood.kl_to_uniform(torch.full((2, 4), 7.5))) == 0.0
    assert float(ascood.kl_to_uniform(torch.tensor([[0.0, 0.1, 0.0]]))) > 0.0


def test_alpha_schedule_decays_linearly_from_max_to_min():
    """Epochs counted 1..E as the reference's loop does: the first epoch is one step below alpha_max, the last
    (0-based index E - 1) uses alpha_min."""
    assert abs(ascood.alpha_at(0, 10, 300, 30) - 273) < 1e-9
    assert abs(ascood.alpha_at(4, 10, 300, 30) - 165) < 1e-9
    assert ascood.alpha_at(9, 10, 300, 30) == 30


def test_i_odin_without_perturbation_is_temperature_scaled_msp_and_perturbs_one_element():
    net = _tiny_net()
    images = np.random.default_rng(0).random((5, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        msp_t = torch.softmax(net(torch.from_numpy(images)) / 10.0, 1).max(1).values.numpy()
    np.testing.assert_allclose(ascood.i_odin(net, images, 10.0, 0.0, 2, "cpu"), msp_t, rtol=1e-5)
    moved = ascood.i_odin(net, images, 10.0, 0.5, 5, "cpu")
    assert np.all(moved >= msp_t - 1e-6) and np.any(np.abs(moved - msp_t) > 1e-6)
