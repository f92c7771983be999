"""LAME (Boudiaf et al., CVPR 2022): Laplacian-regularised maximum likelihood on a frozen model's outputs.

Per batch, minimise ``sum_i KL(z_i || p_i) - (lam/2) sum_ij w_ij z_i.z_j`` over the simplex with the concave-convex
fixed point ``Z <- softmax(log p + lam W Z)`` starting at ``Z = p``. Nothing in the model changes; this works on
any source of features and probabilities (torch or ONNX Runtime), in numpy.

The energy carries the 1/2 on the Laplacian term so that the fixed point above is exactly its CCCP step and
the energy is guaranteed not to increase for a symmetric PSD affinity (rbf, linear). The reference
implementation prints the energy without the 1/2; its iterates are the same.

Small batches: kNN with ``k >= n`` uses ``k = n - 1``; a batch of one sample has no neighbours, its affinity
is zero and LAME returns the input probabilities unchanged (documented fallback, flagged in ``LameOutput``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AFFINITIES = ("knn", "rbf", "linear")
_EPS = 1e-10


@dataclass
class LameOutput:
    """Corrected probabilities, the energy after each iteration, and whether the fallback was used."""

    probs: np.ndarray
    energy: list[float] = field(default_factory=list)
    iterations: int = 0
    fallback: str = ""


def normalise(features: np.ndarray) -> np.ndarray:
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def _sq_distances(f: np.ndarray) -> np.ndarray:
    sq = np.sum(f * f, axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0)


def affinity(features: np.ndarray, kind: str = "knn", knn: int = 5, force_symmetry: bool = False) -> np.ndarray:
    """The affinity matrix on L2-normalised ``features``.

    ``knn``: binary, the k nearest neighbours excluding self (row i marks i's neighbours; not symmetric unless
    ``force_symmetry``). ``rbf``: ``exp(-d^2 / 2 s^2)`` with ``s`` the mean distance to the k-th nearest neighbour
    (self counted, as in the reference). ``linear``: the cosine Gram matrix.
    """
    f = normalise(np.asarray(features, dtype=np.float64))
    n = len(f)
    if kind == "linear":
        w = f @ f.T
    elif kind == "knn":
        w = np.zeros((n, n))
        k = min(knn, n - 1)
        if k >= 1:
            d = _sq_distances(f)
            np.fill_diagonal(d, np.inf)
            nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
            np.put_along_axis(w, nearest, 1.0, axis=1)
        if force_symmetry:
            w = np.maximum(w, w.T)
    elif kind == "rbf":
        d2 = _sq_distances(f)
        k = min(knn, n)
        kth = np.sqrt(np.partition(d2, k - 1, axis=1)[:, k - 1])
        sigma = float(kth.mean())
        w = np.exp(-d2 / (2.0 * sigma ** 2)) if sigma > 0 else np.ones((n, n))
    else:
        raise ValueError(f"unknown affinity {kind!r}; known: {', '.join(AFFINITIES)}")
    return w


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def energy(y: np.ndarray, log_p: np.ndarray, w: np.ndarray, lam: float = 1.0) -> float:
    """``sum(Y log Y - Y log p) - (lam/2) sum((W Y) * Y)``: the objective LAME's fixed point decreases."""
    return float(np.sum(y * np.log(y + _EPS) - y * log_p) - 0.5 * lam * np.sum((w @ y) * y))


def lame_from_affinity(probs: np.ndarray, w: np.ndarray, lam: float = 1.0, max_iter: int = 100,
                       tol: float = 1e-8) -> LameOutput:
    """Run the fixed point from ``Z = probs``; stop when ``|dE| <= tol |E|`` (from the second iteration) or at
    ``max_iter``."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or w.shape != (len(probs), len(probs)):
        raise ValueError(f"probabilities {probs.shape} and affinity {w.shape} do not fit")
    log_p = np.log(probs + _EPS)
    y = probs / probs.sum(axis=1, keepdims=True)
    out = LameOutput(probs=y)
    for it in range(max_iter):
        y = _softmax(log_p + lam * (w @ y))
        out.energy.append(energy(y, log_p, w, lam))
        out.iterations = it + 1
        if it > 0 and abs(out.energy[-1] - out.energy[-2]) <= tol * abs(out.energy[-2]):
            break
    out.probs = y
    return out


def lame(probs: np.ndarray, features: np.ndarray, kind: str = "knn", knn: int = 5, lam: float = 1.0,
         max_iter: int = 100, tol: float = 1e-8, force_symmetry: bool = False) -> LameOutput:
    """LAME on one batch: probabilities ``(n, C)`` and penultimate features ``(n, d)``."""
    if len(probs) != len(features):
        raise ValueError(f"{len(probs)} probability rows but {len(features)} feature rows")
    w = affinity(features, kind, knn, force_symmetry)
    out = lame_from_affinity(probs, w, lam, max_iter, tol)
    if len(probs) == 1 and kind == "knn":
        out.fallback = "batch of one sample: no neighbours, probabilities returned unchanged"
    return out
