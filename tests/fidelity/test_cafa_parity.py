"""CAFA parity with the paper (no public code exists).

Reference: Jung et al., "CAFA: Class-Aware Feature Alignment for Test-Time Adaptation", ICCV 2023 (arXiv
2206.00205): source statistics per class ``mu_c = mean g(x)`` and ``Sigma_c = cov g(x)`` over a labelled source
subset; at test time, with the pseudo-label ``y = argmax f(x)`` and ``D(x; mu, Sigma) = (g - mu)^T Sigma^-1
(g - mu)``, ``L = 1/N sum_i log[ D(x_i; mu_y, Sigma_y) / sum_{c != y} D(x_i; mu_c, Sigma_c) ]``. Written out
below in float64 numpy with a plain inverse of each class's (unbiased) covariance, no shrinkage and no epsilon.
Our default (``cafa_covariance=class``, ``cafa_shrinkage=0``) is compared with it on random class-conditional
features of several sizes: the loss and its gradient with respect to the features.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wb_tta.cafa import cafa_loss, stats_from_features
from wb_tta.params import AdaptParams, BenchmarkParams, SourceStatsParams


def ref_stats(feats: np.ndarray, labels: np.ndarray, c: int):
    means = np.stack([feats[labels == k].mean(0) for k in range(c)])
    inv = np.stack([np.linalg.inv(np.cov(feats[labels == k], rowvar=False)) for k in range(c)])
    return means, inv


def ref_loss(x: np.ndarray, pseudo: np.ndarray, means: np.ndarray, inv: np.ndarray) -> float:
    diff = x[:, None, :] - means[None]
    dist = np.einsum("ncd,cde,nce->nc", diff, inv, diff)
    own = dist[np.arange(len(x)), pseudo]
    others = dist.sum(1) - own
    return float(np.mean(np.log(own / others)))


def ref_grad(x: np.ndarray, pseudo: np.ndarray, means: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """d L / d x: D' = 2 Sigma^-1 (x - mu); d log D_own - d log sum_others, averaged over N."""
    n = len(x)
    diff = x[:, None, :] - means[None]
    dist = np.einsum("ncd,cde,nce->nc", diff, inv, diff)
    ddist = 2 * np.einsum("cde,nce->ncd", inv, diff)
    own = np.zeros_like(dist, dtype=bool)
    own[np.arange(n), pseudo] = True
    g_own = ddist[own] / dist[own][:, None]
    others = np.where(own, 0.0, dist).sum(1)
    g_others = np.where(own[..., None], 0.0, ddist).sum(1) / others[:, None]
    return (g_own - g_others) / n


def data(c: int, d: int, per_class: int, n_test: int, seed: int):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 2, (c, d))
    # a different, well-conditioned covariance per class: (I + 0.4 N / sqrt(d)) scaled per class
    scales = (np.eye(d) + 0.4 * rng.normal(0, 1, (c, d, d)) / np.sqrt(d)) * rng.uniform(0.5, 2.0, (c, 1, 1))
    labels = np.repeat(np.arange(c), per_class)
    feats = means[labels] + np.einsum("nd,nde->ne", rng.normal(0, 1, (len(labels), d)), scales[labels])
    y_test = rng.integers(0, c, n_test)
    x_test = means[y_test] + 1.3 * np.einsum("nd,nde->ne", rng.normal(0, 1, (n_test, d)), scales[y_test])
    pseudo = np.where(rng.random(n_test) < 0.8, y_test, rng.integers(0, c, n_test))
    return feats, labels, x_test, pseudo


SIZES = [(3, 8, 50, 64), (6, 16, 100, 128), (10, 32, 200, 200), (4, 4, 16, 30)]


def measure(c, d, per_class, n_test, seed, **option):
    feats, labels, x, pseudo = data(c, d, per_class, n_test, seed)
    stats = stats_from_features(torch.from_numpy(feats).float(), torch.from_numpy(labels), c, **option)
    z = torch.from_numpy(x).float().requires_grad_(True)
    loss, _, _ = cafa_loss(z, torch.from_numpy(pseudo), stats)
    (grad,) = torch.autograd.grad(loss, z)
    means, inv = ref_stats(feats, labels, c)
    want = ref_loss(x, pseudo, means, inv)
    want_grad = ref_grad(x, pseudo, means, inv)
    rel_grad = float(np.abs(grad.numpy() - want_grad).max() / np.abs(want_grad).max())
    return abs(loss.item() - want), rel_grad


@pytest.mark.parametrize("size", SIZES, ids=[f"C{s[0]}-d{s[1]}-n{s[2]}" for s in SIZES])
@pytest.mark.parametrize("seed", [0, 1])
def test_default_matches_the_papers_loss_and_gradient(size, seed):
    loss_diff, grad_rel = measure(*size, seed)
    assert loss_diff < 1e-6 and grad_rel < 1e-5, (loss_diff, grad_rel)


def test_reference_gradient_is_right():
    """The hand-written reference gradient agrees with finite differences (so the parity test can fail)."""
    feats, labels, x, pseudo = data(3, 5, 40, 6, 0)
    means, inv = ref_stats(feats, labels, 3)
    g = ref_grad(x, pseudo, means, inv)
    h = 1e-6
    for i, j in ((0, 0), (3, 2), (5, 4)):
        up, down = x.copy(), x.copy()
        up[i, j] += h
        down[i, j] -= h
        num = (ref_loss(up, pseudo, means, inv) - ref_loss(down, pseudo, means, inv)) / (2 * h)
        assert abs(num - g[i, j]) < 1e-6 * max(1.0, abs(num))


def test_defaults_are_the_papers_per_class_covariance_without_shrinkage():
    for model in (AdaptParams(), BenchmarkParams()):
        assert (model.cafa_covariance, model.cafa_shrinkage) == ("class", 0.0)
    assert (SourceStatsParams().covariance, SourceStatsParams().shrinkage) == ("class", 0.0)


@pytest.mark.parametrize("option", [{"covariance": "tied", "shrinkage": 0.1}, {"covariance": "class",
                                                                               "shrinkage": 0.1},
                                    {"covariance": "tied", "shrinkage": 0.0}])
def test_stable_variants_really_change_the_loss(option):
    loss_diff, grad_rel = measure(6, 16, 100, 128, 0, **option)
    assert loss_diff > 1e-3 and grad_rel > 1e-3, (loss_diff, grad_rel)
