"""CAFA: the loss on synthetic class-conditional features (method notes, section 5), source statistics
files and their refusal for another model, and the refusal of a model without normalisation layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from wb_digits.model import DigitsCNN
from wb_digits.zoo import load_model, save_model
from wb_tta.cafa import (
    SourceStatsError,
    cafa_loss,
    check_compatible,
    compute_source_stats,
    load_source_stats,
    mahalanobis,
    stats_from_features,
)
from wb_tta.methods import Cafa, Tent
from wb_tta.norm_params import NoNormLayersError, norm_affine_parameters

C, D, N = 3, 8, 300


@pytest.fixture(scope="module")
def synthetic():
    g = torch.Generator().manual_seed(0)
    means = torch.randn(C, D, generator=g) * 3
    y = torch.arange(C).repeat_interleave(N)
    source = means[y] + torch.randn(C * N, D, generator=g)
    target = means[y] + torch.randn(C * N, D, generator=g)
    return stats_from_features(source, y, C, "class", 0.0), target, y


def _accuracy(z, stats, y):
    return float((mahalanobis(z, stats).argmin(1) == y).float().mean())


def _optimise(features, stats, steps=150, lr=0.03):
    """A per-dimension affine layer (BatchNorm's gamma/beta stand-in) optimised with the CAFA loss."""
    gamma, beta = torch.ones(D, requires_grad=True), torch.zeros(D, requires_grad=True)
    opt = torch.optim.Adam([gamma, beta], lr=lr)
    for _ in range(steps):
        z = gamma * features + beta
        loss, _, _ = cafa_loss(z, mahalanobis(z.detach(), stats).argmin(1), stats)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (gamma * features + beta).detach(), float(torch.cat([gamma.detach() - 1, beta.detach()]).norm())


def test_loss_is_negative_when_samples_sit_at_their_class(synthetic):
    stats, target, y = synthetic
    loss, intra, inter = cafa_loss(target, y, stats)
    assert loss < 0 and float(intra.mean()) < float(inter.mean())
    wrong, _, _ = cafa_loss(target, (y + 1) % C, stats)
    assert wrong > loss + 1.0


def test_synthetic_affine_shift_is_restored_by_optimising_the_loss(synthetic):
    stats, target, y = synthetic
    g = torch.Generator().manual_seed(4)
    shifted = torch.exp(torch.randn(D, generator=g) * 0.5) * target + torch.randn(D, generator=g) * 3
    before = _accuracy(shifted, stats, y)
    intra_before = float(cafa_loss(shifted, y, stats)[1].mean())
    adapted, moved = _optimise(shifted, stats)
    assert before < 0.9
    assert _accuracy(adapted, stats, y) >= 0.99
    assert float(cafa_loss(adapted, y, stats)[1].mean()) < intra_before / 3
    assert moved > 1.0


def test_no_shift_keeps_accuracy_and_moves_parameters_less_than_a_shift(synthetic):
    stats, target, y = synthetic
    g = torch.Generator().manual_seed(4)
    shifted = torch.exp(torch.randn(D, generator=g) * 0.5) * target + torch.randn(D, generator=g) * 3
    adapted, moved_clean = _optimise(target, stats, steps=20, lr=0.01)
    _, moved_shifted = _optimise(shifted, stats, steps=20, lr=0.01)
    assert _accuracy(adapted, stats, y) == pytest.approx(_accuracy(target, stats, y), abs=0.005)
    assert moved_clean < 0.25 * np.sqrt(D) and moved_clean < moved_shifted


def test_online_cafa_on_clean_digits_barely_moves_the_model(digits_source):
    model, stats, test = digits_source
    cafa = Cafa(model, stats, lr=1e-3)
    correct = 0
    for i in range(0, 256, 64):
        out = cafa.process(test.x[i:i + 64])
        correct += int((out.probs.argmax(1) == test.y[i:i + 64]).sum())
    assert correct / 256 >= 0.99
    assert cafa.param_shift() < 0.02


@pytest.fixture(scope="module")
def digits_source():
    from wb_tta.sources import load_split, source_subset

    torch.set_num_threads(1)
    model = load_model()
    src = source_subset(load_split("digits", "train"), 30, 0)
    stats = compute_source_stats(model, src.x, src.y, 6, "tied", 0.1)
    return model, stats, load_split("digits", "test")


def test_source_stats_round_trip_and_refusals(tmp_path, digits_source):
    model, stats, _ = digits_source
    path = stats.save(tmp_path / "stats.safetensors")
    loaded = load_source_stats(path)
    torch.testing.assert_close(loaded.means, stats.means)
    check_compatible(loaded, model, 6)
    other = DigitsCNN(num_classes=6)
    with pytest.raises(SourceStatsError, match="different model"):
        check_compatible(loaded, other, 6)
    with pytest.raises(SourceStatsError, match="6 classes but the model has 4"):
        Cafa(DigitsCNN(num_classes=4), loaded)
    with pytest.raises(SourceStatsError, match="feature size 128"):
        check_compatible(loaded, DigitsCNN(num_classes=6, width=8), 6)
    weights = tmp_path / "weights.safetensors"
    save_model(model, weights)
    with pytest.raises(SourceStatsError, match="not a CAFA source-statistics file"):
        load_source_stats(weights)


class _NoNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 6)

    def forward_features(self, x):
        return self.pool(self.conv(x)).flatten(1)


def test_model_without_norm_layers_is_refused_naming_what_would_be_adapted():
    with pytest.raises(NoNormLayersError, match=r"affine weight and bias of normalisation layers.*Conv2d"):
        Tent(_NoNorm())
    names = [n for n, _ in norm_affine_parameters(DigitsCNN())]
    assert names and all(n.endswith((".weight", ".bias")) for n in names)
    assert len(names) == 12
