"""LAME parity with the official code.

Reference: fiveai/LAME @d2e5f63090bc1c8129bf7cbd781029a5955e1a67, ``src/adaptation/lame.py`` (``kNN_affinity``,
``rbf_affinity``, ``linear_affinity``, ``LAME.run_step``, ``laplacian_optimization``, ``entropy_energy``) and
``src/config/defaults.py`` (knn 5, force_symmetry False). Written out below in torch float64 from reading that
file (nothing copied): features L2-normalised; kNN = the k+1 smallest Euclidean distances minus the first (self);
rbf = ``exp(-d^2 / 2 s^2)`` with ``s`` the mean k-th smallest distance (self counted); linear = Gram matrix;
``force_symmetry`` = ``(W + W^T)/2``; ``Y0 = softmax(log(p + 1e-10))``; each step ``pairwise = lam W Y``,
``Y = softmax(log(p + 1e-10) + pairwise)``, ``E = sum(-log(p + 1e-10) Y - pairwise Y + Y log clip(Y, 1e-20))``,
stop when ``i > 1`` (0-based) and ``|E - E_old| <= 1e-8 |E_old|``, at most 100 steps. Our default
(``lame_stop=reference``, ``lame_symmetrise=average``) is compared with it on fixed random batches of several
sizes: the final assignments and the number of updates.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wb_tta.lame import affinity, lame, lame_from_affinity


def ref_affinity(feats: torch.Tensor, kind: str, knn: int) -> torch.Tensor:
    n = len(feats)
    dist = torch.norm(feats[None, :, :] - feats[:, None, :], dim=-1)
    if kind == "knn":
        idx = dist.topk(min(knn + 1, n), dim=-1, largest=False).indices[:, 1:]
        return torch.zeros(n, n, dtype=feats.dtype).scatter(1, idx, 1.0)
    if kind == "rbf":
        sigma = dist.topk(min(knn, n), dim=-1, largest=False).values[:, -1].mean()
        return torch.exp(-dist ** 2 / (2 * sigma ** 2))
    return feats @ feats.T


def ref_laplacian(unary: torch.Tensor, kernel: torch.Tensor, lam: float = 1.0, max_steps: int = 100):
    """Returns the final Y and how many updates were made."""
    y = (-unary).softmax(-1)
    old = float("inf")
    steps = 0
    for i in range(max_steps):
        pairwise = lam * kernel @ y
        y = (-unary + pairwise).softmax(-1)
        e = float((unary * y - pairwise * y + y * torch.log(y.clip(1e-20))).sum())
        steps = i + 1
        if i > 1 and abs(e - old) <= 1e-8 * abs(old):
            break
        old = e
    return y, steps


def ref_lame(probs, feats, kind, knn, lam=1.0, force_symmetry=False, max_steps=100):
    p, f = torch.from_numpy(probs), F.normalize(torch.from_numpy(feats), p=2, dim=-1)
    kernel = ref_affinity(f, kind, knn)
    if force_symmetry:
        kernel = 0.5 * (kernel + kernel.T)
    y, steps = ref_laplacian(-torch.log(p + 1e-10), kernel, lam, max_steps)
    return y.numpy(), steps


def batch(n: int, c: int, d: int, seed: int, sharp: float = 2.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (c, d))
    y = rng.integers(0, c, n)
    feats = centres[y] + rng.normal(0, 0.8, (n, d))
    logits = sharp * rng.normal(0, 1, (n, c)) + 1.5 * np.eye(c)[y]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    return probs / probs.sum(1, keepdims=True), feats


SIZES = [(16, 4, 16), (64, 6, 32), (128, 10, 64), (40, 3, 8)]
CONFIGS = [("knn", 1, False), ("knn", 3, False), ("knn", 5, False), ("knn", 5, True), ("rbf", 5, False),
           ("rbf", 3, True), ("linear", 5, False)]


def compare(size, config, seed, **ours_kw):
    n, c, d = size
    kind, knn, sym = config
    probs, feats = batch(n, c, d, seed)
    lam = 0.3 if kind == "linear" else 1.0
    ours = lame(probs, feats, kind=kind, knn=knn, lam=lam, force_symmetry=sym, **ours_kw)
    want, steps = ref_lame(probs, feats, kind, knn, lam, sym)
    return float(np.abs(ours.probs - want).max()), ours.iterations, steps


@pytest.mark.parametrize("size", SIZES, ids=[f"n{s[0]}-C{s[1]}-d{s[2]}" for s in SIZES])
@pytest.mark.parametrize("config", CONFIGS, ids=[f"{k}{m}{'-sym' if s else ''}" for k, m, s in CONFIGS])
@pytest.mark.parametrize("seed", [0, 1])
def test_default_matches_the_reference_assignments_and_iteration_counts(size, config, seed):
    diff, ours_steps, ref_steps = compare(size, config, seed)
    assert diff < 1e-12, diff
    assert ours_steps == ref_steps


def test_affinities_match_the_reference():
    probs, feats = batch(50, 5, 12, 3)
    f = F.normalize(torch.from_numpy(feats), dim=-1)
    for kind, knn in (("knn", 1), ("knn", 4), ("rbf", 5), ("linear", 5)):
        np.testing.assert_allclose(affinity(feats, kind, knn), ref_affinity(f, kind, knn).numpy(), atol=1e-12)
    sym = ref_affinity(f, "knn", 4)
    np.testing.assert_array_equal(affinity(feats, "knn", 4, force_symmetry=True), (0.5 * (sym + sym.T)).numpy())


def test_max_iterations_bound_counts_updates_like_the_reference():
    probs, feats = batch(64, 6, 32, 4)
    for cap in (1, 2, 3, 5):
        ours = lame(probs, feats, kind="knn", knn=5, max_iter=cap)
        want, steps = ref_lame(probs, feats, "knn", 5, max_steps=cap)
        assert ours.iterations == steps == cap
        np.testing.assert_allclose(ours.probs, want, atol=1e-12)


def test_cccp_stop_option_changes_iteration_counts_and_assignments():
    """The earlier stopping rule stops elsewhere on the same iterates (the fixed point itself is the same)."""
    counts, diffs = [], []
    for size in SIZES:
        for seed in (0, 1):
            diff, cccp_steps, ref_steps = compare(size, ("knn", 5, True), seed, stop="cccp")
            counts.append((cccp_steps, ref_steps))
            diffs.append(diff)
    assert any(a != b for a, b in counts), counts
    assert max(diffs) > 1e-4, diffs
    with pytest.raises(ValueError, match="lame_stop"):
        lame_from_affinity(np.full((2, 2), 0.5), np.zeros((2, 2)), stop="never")


def test_max_symmetrisation_option_differs_from_the_reference_average():
    probs, feats = batch(64, 6, 32, 5)
    avg = affinity(feats, "knn", 5, force_symmetry=True)
    mx = affinity(feats, "knn", 5, force_symmetry=True, symmetrise_how="max")
    assert set(np.unique(avg)) == {0.0, 0.5, 1.0} and set(np.unique(mx)) == {0.0, 1.0}
    a = lame(probs, feats, kind="knn", force_symmetry=True).probs
    b = lame(probs, feats, kind="knn", force_symmetry=True, symmetrise_how="max").probs
    assert float(np.abs(a - b).max()) > 1e-3
