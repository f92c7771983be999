"""Closed-form stages shared by SC2-PCR and VBReg: pairwise length consistency, spectral weights,
seeding, hypothesis fitting and scoring, and the final iterative refinement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wb_registration.geometry import apply_transform, is_degenerate_set, weighted_kabsch

#: The largest number of matches a pairwise (N x N) stage accepts; beyond it the caller subsamples.
MAX_PAIRWISE = 6000


@dataclass
class Estimate:
    """What every estimator returns: the 4x4 transform (source -> target), per-match inlier mask and
    confidence, a status (``ok`` or ``ill-posed: ...``) and stage timings/diagnostics."""

    transform: np.ndarray
    inliers: np.ndarray
    confidence: np.ndarray
    status: str = "ok"
    info: dict[str, float] = field(default_factory=dict)


def ill_posed(n: int, reason: str) -> Estimate:
    """An explicit refusal: identity transform, nothing kept, zero confidence."""
    return Estimate(np.eye(4), np.zeros(n, bool), np.zeros(n), status=f"ill-posed: {reason}")


def length_consistency(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """d_ij = | ||x_i - x_j|| - ||y_i - y_j|| | as float32 (N x N): invariant to rigid motion of either cloud."""
    if len(src) > MAX_PAIRWISE:
        raise ValueError(f"{len(src)} matches exceed the pairwise cap of {MAX_PAIRWISE}; subsample them first")
    src = src.astype(np.float32)
    tgt = tgt.astype(np.float32)

    def dist(p: np.ndarray) -> np.ndarray:
        sq = np.sum(p * p, axis=1)
        return np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * p @ p.T, 0.0))

    return np.abs(dist(src) - dist(tgt))


def soft_compatibility(d: np.ndarray, sigma: float) -> np.ndarray:
    """beta_ij = max(0, 1 - d_ij^2 / sigma^2) with a zero diagonal."""
    beta = np.clip(1.0 - (d / sigma) ** 2, 0.0, None).astype(np.float32)
    np.fill_diagonal(beta, 0.0)
    return beta


def leading_eigenvector(matrix: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Power iteration on non-negative (…, n, n) matrices; returns non-negative vectors (…, n)."""
    vec = np.ones(matrix.shape[:-1], dtype=np.float64)
    for _ in range(iterations):
        nxt = np.einsum("...ij,...j->...i", matrix, vec)
        norm = np.linalg.norm(nxt, axis=-1, keepdims=True)
        vec = np.where(norm > 0, nxt / np.where(norm > 0, norm, 1.0), vec)
    return vec


def nms_seeds(confidence: np.ndarray, points: np.ndarray, radius: float, count: int) -> np.ndarray:
    """Indices of up to ``count`` local confidence maxima (within ``radius`` in source space), best first."""
    order = np.argsort(-confidence, kind="stable")
    if radius > 0 and len(points) > 1:
        sq = np.sum(points * points, axis=1)
        near = (sq[:, None] + sq[None] - 2 * points @ points.T) < radius * radius
        neighbour_best = np.max(np.where(near, confidence[None, :], -np.inf), axis=1)
        local_max = confidence >= neighbour_best
        order = order[local_max[order]]
    if len(order) < count:
        rest = np.setdiff1d(np.argsort(-confidence, kind="stable"), order, assume_unique=True)
        order = np.r_[order, rest[: count - len(order)]]
    return order[:count]


def truncated_scores(transforms: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float,
                     chunk: int = 256) -> np.ndarray:
    """Score of each (b, 4, 4) transform: mean_j 1[r_j < eps] (1 - r_j^2 / eps^2)."""
    out = np.empty(len(transforms))
    for start in range(0, len(transforms), chunk):
        t = transforms[start:start + chunk]
        moved = src[None] @ t[:, :3, :3].transpose(0, 2, 1) + t[:, None, :3, 3]
        r2 = np.sum((moved - tgt[None]) ** 2, axis=2) / (eps * eps)
        out[start:start + chunk] = np.mean(np.where(r2 < 1.0, 1.0 - r2, 0.0), axis=1)
    return out


def inlier_counts(transforms: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float,
                  chunk: int = 256) -> np.ndarray:
    """Number of matches with residual below ``eps`` under each (b, 4, 4) transform."""
    out = np.empty(len(transforms), dtype=np.int64)
    for start in range(0, len(transforms), chunk):
        t = transforms[start:start + chunk]
        moved = src[None] @ t[:, :3, :3].transpose(0, 2, 1) + t[:, None, :3, 3]
        out[start:start + chunk] = np.sum(np.sum((moved - tgt[None]) ** 2, axis=2) < eps * eps, axis=1)
    return out


def fit_hypotheses(groups: np.ndarray, weights: np.ndarray, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """Weighted Kabsch for every hypothesis: ``groups`` (b, k) match indices, ``weights`` (b, k)."""
    return weighted_kabsch(src[groups], tgt[groups], weights)


def refine(transform: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float,
           rounds: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Re-fit on the matches with r < eps, weights 1/(1 + (r/eps)^2), until the inlier set stops changing."""
    mask = np.linalg.norm(apply_transform(src, transform) - tgt, axis=1) < eps
    for _ in range(rounds):
        if mask.sum() < 3 or is_degenerate_set(src[mask]):
            break
        r = np.linalg.norm(apply_transform(src[mask], transform) - tgt[mask], axis=1)
        transform = weighted_kabsch(src[mask], tgt[mask], 1.0 / (1.0 + (r / eps) ** 2))
        new_mask = np.linalg.norm(apply_transform(src, transform) - tgt, axis=1) < eps
        if np.array_equal(new_mask, mask):
            break
        mask = new_mask
    return transform, mask


def finish(best: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float, confidence: np.ndarray,
           info: dict[str, float]) -> Estimate:
    """Refine the chosen hypothesis and decide the status: fewer than 3 non-collinear inliers is ill-posed."""
    transform, mask = refine(best, src, tgt, eps)
    if mask.sum() < 3 or is_degenerate_set(src[mask]):
        est = ill_posed(len(src), f"only {int(mask.sum())} consistent matches (need 3 non-collinear)")
        est.info.update(info)
        return est
    info = dict(info, n_inliers=float(mask.sum()))
    return Estimate(transform, mask, confidence, "ok", info)
