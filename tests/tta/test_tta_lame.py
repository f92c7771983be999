"""Known answers of LAME (method notes, section 4) on real numpy computations."""

from __future__ import annotations

import numpy as np
import pytest

from wb_tta.lame import affinity, energy, lame, lame_from_affinity


def _batch(n=40, c=4, d=16, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, c))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return probs, rng.normal(0, 1, (n, d))


@pytest.mark.parametrize("kind", ["knn", "rbf", "linear"])
def test_rows_sum_to_one(kind):
    probs, feats = _batch()
    out = lame(probs, feats, kind=kind, lam=0.3 if kind == "linear" else 1.0)
    np.testing.assert_allclose(out.probs.sum(1), 1.0, atol=1e-12)
    assert (out.probs >= 0).all()


def test_zero_affinity_returns_input_probabilities():
    probs, _ = _batch()
    out = lame_from_affinity(probs, np.zeros((len(probs), len(probs))))
    np.testing.assert_allclose(out.probs, probs, atol=1e-8)


@pytest.mark.parametrize("kind", ["knn", "rbf", "linear"])
def test_permutation_equivariance(kind):
    probs, feats = _batch(seed=1)
    perm = np.random.default_rng(2).permutation(len(probs))
    a = lame(probs, feats, kind=kind, lam=0.3 if kind == "linear" else 1.0).probs
    b = lame(probs[perm], feats[perm], kind=kind, lam=0.3 if kind == "linear" else 1.0).probs
    np.testing.assert_allclose(b, a[perm], atol=1e-10)


@pytest.mark.parametrize("kind", ["rbf", "linear"])
def test_energy_non_increasing_with_psd_kernel(kind):
    probs, feats = _batch(n=64, seed=3)
    w = affinity(feats, kind)
    assert np.linalg.eigvalsh((w + w.T) / 2).min() > -1e-9
    out = lame_from_affinity(probs, w, lam=2.0, tol=0.0, max_iter=50)
    start = energy(probs, np.log(probs + 1e-10), w, 2.0)
    e = np.array([start, *out.energy])
    assert np.all(np.diff(e) <= 1e-9 * np.abs(e[:-1]) + 1e-12), np.diff(e).max()
    assert e[-1] < e[0]


def test_knn_affinity_excludes_self_and_marks_k_neighbours():
    _, feats = _batch(n=20)
    w = affinity(feats, "knn", knn=3)
    assert np.all(np.diag(w) == 0) and np.all(w.sum(1) == 3)
    sym = affinity(feats, "knn", knn=3, force_symmetry=True)
    np.testing.assert_array_equal(sym, sym.T)


def test_knn_lame_repairs_noisy_labels_on_two_clusters():
    rng = np.random.default_rng(4)
    n = 60
    y = np.repeat([0, 1], n // 2)
    centres = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0]])
    feats = centres[y] + rng.normal(0, 0.5, (n, 4))
    noisy = y.copy()
    flip = rng.choice(n, int(0.3 * n), replace=False)
    noisy[flip] = 1 - noisy[flip]
    probs = np.where(np.eye(2)[noisy] == 1, 0.7, 0.3)
    out = lame(probs, feats, kind="knn", knn=5)
    assert np.mean(probs.argmax(1) == y) == pytest.approx(0.7)
    assert np.mean(out.probs.argmax(1) == y) >= 0.95


def test_single_class_batch_is_not_corrupted():
    rng = np.random.default_rng(5)
    feats = rng.normal(0, 1, (32, 8)) + 5.0
    probs = np.tile([0.8, 0.1, 0.1], (32, 1)) + rng.uniform(0, 0.05, (32, 3))
    probs /= probs.sum(1, keepdims=True)
    out = lame(probs, feats, kind="knn")
    assert np.all(out.probs.argmax(1) == 0)


def test_batch_of_one_with_knn_falls_back_to_input_probabilities():
    probs, feats = _batch(n=1)
    out = lame(probs, feats, kind="knn")
    np.testing.assert_allclose(out.probs, probs, atol=1e-8)
    assert "no neighbours" in out.fallback


def test_mismatched_inputs_are_refused():
    probs, feats = _batch(n=5)
    with pytest.raises(ValueError, match="feature rows"):
        lame(probs, feats[:4])
    with pytest.raises(ValueError, match="unknown affinity"):
        affinity(feats, "cosine")
