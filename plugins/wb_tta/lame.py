"""LAME (Boudiaf et al., CVPR 2022): Laplacian-regularised maximum likelihood on a frozen model's outputs.

Per batch, minimise ``sum_i KL(z_i || p_i) - (lam/2) sum_ij w_ij z_i.z_j`` over the simplex with the concave-convex
fixed point ``Z <- softmax(log p + lam W Z)`` starting at ``Z = p``. Nothing in the model changes; this works on
any source of features and probabilities (torch or ONNX Runtime), in numpy.

Stopping rule (``stop``). ``"reference"`` (default) is the official code's (fiveai/LAME @d2e5f63,
``src/adaptation/lame.py``, ``laplacian_optimization``): start from ``softmax(log(p + 1e-10))``; after each update
the energy ``sum(-log p * Y - lam (W Y_prev) * Y + Y log Y)`` is taken without the 1/2 and with the kernel term of
the *previous* iterate; stop when ``|E - E_prev| <= tol |E_prev|``, checked from the third iteration on.
``"cccp"`` is this project's earlier rule: the objective with the 1/2 on the Laplacian term, evaluated at the new
iterate (``energy``; the fixed point is exactly its CCCP step, so it cannot increase for a symmetric PSD affinity
such as rbf or linear), checked from the second iteration. The iterates are the same; where they stop differs.

``force_symmetry`` makes the affinity symmetric with ``(W + W^T) / 2`` as the reference does
(``symmetrise="average"``) or with ``max(W, W^T)`` (``"max"``, the earlier variant: a kNN edge either way counts 1).

Small batches: kNN with ``k >= n`` uses ``k = n - 1``; a batch of one sample has no neighbours, its affinity
is zero and LAME returns the input probabilities unchanged (documented fallback, flagged in ``LameOutput``).
"""

from __future__ import annotations

import functools
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


def symmetrise(w: np.ndarray, how: str = "average") -> np.ndarray:
    """``(W + W^T) / 2`` (``average``, the reference) or ``max(W, W^T)`` (``max``)."""
    if how == "average":
        return 0.5 * (w + w.T)
    if how == "max":
        return np.maximum(w, w.T)
    raise ValueError(f"lame_symmetrise must be 'average' or 'max', got {how!r}")


def affinity(features: np.ndarray, kind: str = "knn", knn: int = 5, force_symmetry: bool = False,
             symmetrise_how: str = "average") -> np.ndarray:
    """The affinity matrix on L2-normalised ``features``.

    ``knn``: binary, the k nearest neighbours excluding self (row i marks i's neighbours; not symmetric unless
    ``force_symmetry``). ``rbf``: ``exp(-d^2 / 2 s^2)`` with ``s`` the mean distance to the k-th nearest neighbour
    (self counted, as in the reference). ``linear``: the cosine Gram matrix. ``force_symmetry`` applies
    :func:`symmetrise` (a no-op for rbf and linear, which are symmetric already).
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
    elif kind == "rbf":
        d2 = _sq_distances(f)
        k = min(knn, n)
        kth = np.sqrt(np.partition(d2, k - 1, axis=1)[:, k - 1])
        sigma = float(kth.mean())
        w = np.exp(-d2 / (2.0 * sigma ** 2)) if sigma > 0 else np.ones((n, n))
    else:
        raise ValueError(f"unknown affinity {kind!r}; known: {', '.join(AFFINITIES)}")
    return symmetrise(w, symmetrise_how) if force_symmetry else w


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def energy(y: np.ndarray, log_p: np.ndarray, w: np.ndarray, lam: float = 1.0) -> float:
    """``sum(Y log Y - Y log p) - (lam/2) sum((W Y) * Y)``: the objective LAME's fixed point decreases."""
    return float(np.sum(y * np.log(y + _EPS) - y * log_p) - 0.5 * lam * np.sum((w @ y) * y))


def reference_energy(y: np.ndarray, log_p: np.ndarray, pairwise: np.ndarray) -> float:
    """The reference's printed energy ``sum(-log p * Y - pairwise * Y + Y log max(Y, 1e-20))`` where ``pairwise``
    is ``lam W Y`` of the iterate *before* ``Y`` (no 1/2)."""
    return float(np.sum(-log_p * y - pairwise * y + y * np.log(np.maximum(y, 1e-20))))


STOP_RULES = ("reference", "cccp")


def lame_from_affinity(probs: np.ndarray, w: np.ndarray, lam: float = 1.0, max_iter: int = 100,
                       tol: float = 1e-8, stop: str = "reference") -> LameOutput:
    """Run the fixed point ``Y <- softmax(log p + lam W Y)`` until the ``stop`` rule (module docstring) holds or
    ``max_iter`` updates were made; ``iterations`` counts the updates."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or w.shape != (len(probs), len(probs)):
        raise ValueError(f"probabilities {probs.shape} and affinity {w.shape} do not fit")
    if stop not in STOP_RULES:
        raise ValueError(f"lame_stop must be one of {', '.join(STOP_RULES)}, got {stop!r}")
    log_p = np.log(probs + _EPS)
    if stop == "cccp":
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
    y = _softmax(log_p)
    out = LameOutput(probs=y)
    previous = float("inf")
    for it in range(max_iter):
        pairwise = lam * (w @ y)
        y = _softmax(log_p + pairwise)
        current = reference_energy(y, log_p, pairwise)
        out.energy.append(current)
        out.iterations = it + 1
        if it >= 2 and abs(current - previous) <= tol * abs(previous):
            break
        previous = current
    out.probs = y
    return out


#: Up to this batch size LAME's matrices are too small for a multi-threaded BLAS to pay: its thread hand-offs cost
#: more than the products (x8 the single-threaded time at batch 64 on 2 busy cores), so LAME runs on one thread.
SINGLE_THREAD_MAX_BATCH = 1024


@functools.cache
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def lame(probs: np.ndarray, features: np.ndarray, kind: str = "knn", knn: int = 5, lam: float = 1.0,
         max_iter: int = 100, tol: float = 1e-8, force_symmetry: bool = False, stop: str = "reference",
         symmetrise_how: str = "average") -> LameOutput:
    """LAME on one batch: probabilities ``(n, C)`` and penultimate features ``(n, d)``."""
    if len(probs) != len(features):
        raise ValueError(f"{len(probs)} probability rows but {len(features)} feature rows")
    threads = 1 if len(probs) <= SINGLE_THREAD_MAX_BATCH else None
    with _blas().limit(limits=threads, user_api="blas"):
        w = affinity(features, kind, knn, force_symmetry, symmetrise_how)
        out = lame_from_affinity(probs, w, lam, max_iter, tol, stop)
    if len(probs) == 1 and kind == "knn":
        out.fallback = "batch of one sample: no neighbours, probabilities returned unchanged"
    return out
