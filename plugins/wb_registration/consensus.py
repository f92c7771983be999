"""Closed-form stages shared by SC2-PCR and VBReg: pairwise length consistency, spectral weights,
seeding, hypothesis fitting and scoring, and the final iterative refinement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from wb_registration.geometry import apply_transform, is_degenerate_set, weighted_kabsch

#: The largest number of matches a pairwise (N x N) stage accepts; beyond it the caller subsamples.
MAX_PAIRWISE = 6000


@dataclass
class Estimate:
    """What every estimator returns: the 4x4 transform (source -> target), per-match inlier mask and
    confidence, a status (``ok`` or ``ill-posed: ...``) and stage timings/diagnostics; ``stages`` holds the
    intermediate arrays when an estimator is asked for them (inspection, parity tests)."""

    transform: np.ndarray
    inliers: np.ndarray
    confidence: np.ndarray
    status: str = "ok"
    info: dict[str, float] = field(default_factory=dict)
    stages: dict[str, np.ndarray] = field(default_factory=dict)


def ill_posed(n: int, reason: str) -> Estimate:
    """An explicit refusal: identity transform, nothing kept, zero confidence."""
    return Estimate(np.eye(4), np.zeros(n, bool), np.zeros(n), status=f"ill-posed: {reason}")


def pairwise_distances(points: np.ndarray) -> np.ndarray:
    """||p_i - p_j|| as float32 (N x N), from the coordinate differences (no |a|^2 + |b|^2 - 2ab expansion,
    whose cancellation moves close pairs across a threshold): ``torch.cdist``'s direct mode, which gives the
    norm of the differences bit for bit without an (N, N, 3) intermediate."""
    if len(points) > MAX_PAIRWISE:
        raise ValueError(f"{len(points)} matches exceed the pairwise cap of {MAX_PAIRWISE}; subsample them first")
    pts = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    return torch.cdist(pts, pts, compute_mode="donot_use_mm_for_euclid_dist").numpy()


def length_consistency(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """d_ij = | ||x_i - x_j|| - ||y_i - y_j|| | as float32 (N x N): invariant to rigid motion of either cloud."""
    return np.abs(pairwise_distances(src) - pairwise_distances(tgt))


def indicator_product(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``rows @ matrix`` for 0/1 float32 ``rows`` that are mostly zero (compatibility graphs at high outlier
    ratios): each output row sums the rows of ``matrix`` its ones pick. The sums are whole numbers, so they equal
    the dense product exactly, for a fraction of its work."""
    picked_row, picked = np.nonzero(rows)
    out = torch.zeros((len(rows), matrix.shape[1]), dtype=torch.float32)
    out.index_add_(0, torch.from_numpy(picked_row), torch.from_numpy(np.ascontiguousarray(matrix[picked])))
    return out.numpy()


def soft_compatibility(d: np.ndarray, sigma: float, zero_diagonal: bool = True) -> np.ndarray:
    """beta_ij = max(0, 1 - d_ij^2 / sigma^2) (float32); the diagonal (d_ii = 0, so 1) is zeroed unless asked
    to keep it, as SC2-PCR and VBReg keep it."""
    d = np.asarray(d, dtype=np.float32)
    beta = np.clip(1.0 - d * d / np.float32(sigma * sigma), 0.0, None).astype(np.float32)
    if zero_diagonal:
        np.fill_diagonal(beta, 0.0)
    return beta


def leading_eigenvector(matrix: np.ndarray, iterations: int = 10, early_stop: bool = False) -> np.ndarray:
    """Power iteration from the all-ones vector on non-negative (…, n, n) matrices; returns (…, n).

    ``early_stop=False``: exactly ``iterations`` steps in float64, each matrix on its own (the workbench's
    variant). ``early_stop=True``: the reference codes' (SC2-PCR, VBReg) form in float32: each step divides by
    ``norm + 1e-6`` and the loop stops after at most ``iterations`` steps once the whole stack agrees with the
    previous step (``allclose``, rtol 1e-5, atol 1e-8), so the matrices of one call stop together.
    """
    if early_stop:
        mat = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
        stack = mat.reshape(-1, *mat.shape[-2:])
        vec = torch.ones((*stack.shape[:-1], 1), dtype=torch.float32)
        last = vec
        for _ in range(iterations):
            vec = torch.bmm(stack, vec)
            vec = vec / (torch.linalg.vector_norm(vec, dim=1, keepdim=True) + 1e-6)
            if torch.allclose(vec, last, rtol=1e-5, atol=1e-8):
                break
            last = vec
        return vec[..., 0].reshape(mat.shape[:-1]).numpy()
    vec = np.ones(matrix.shape[:-1], dtype=np.float64)
    for _ in range(iterations):
        nxt = np.einsum("...ij,...j->...i", matrix, vec)
        norm = np.linalg.norm(nxt, axis=-1, keepdims=True)
        vec = np.where(norm > 0, nxt / np.where(norm > 0, norm, 1.0), vec)
    return vec


def local_maxima(confidence: np.ndarray, distances: np.ndarray, radius: float) -> np.ndarray:
    """Matches whose confidence is >= that of every match closer than ``radius`` (in ``distances``)."""
    if radius <= 0:
        return np.ones(len(confidence), bool)
    near = distances < radius
    return ~np.any(near & (confidence[None, :] > confidence[:, None]), axis=1)


def nms_seeds(confidence: np.ndarray, distances: np.ndarray, radius: float, count: int,
              fill: str = "reference") -> np.ndarray:
    """Indices of ``count`` seeds: local confidence maxima within ``radius`` (source-space ``distances``).

    ``fill="reference"`` (SC2-PCR ``pick_seeds``, VBReg ``pick_seeds_nms``): rank every match by
    ``confidence x is_local_max`` (descending, ties by lower index) and keep the first ``count``; so when
    maxima are few the rest come in index order (score 0), and a local maximum with a negative score ranks
    after every non-maximum. ``fill="confidence"`` (the workbench's variant): the local maxima by
    confidence, then the other matches by confidence.
    """
    is_max = local_maxima(confidence, distances, radius)
    if fill == "reference":
        score = confidence * is_max.astype(confidence.dtype)
        return np.argsort(-score, kind="stable")[:count]
    if fill != "confidence":
        raise ValueError(f"fill must be 'reference' or 'confidence', got {fill!r}")
    order = np.argsort(-confidence, kind="stable")
    maxima = order[is_max[order]]
    if len(maxima) < count:
        rest = order[~is_max[order]]
        maxima = np.r_[maxima, rest[: count - len(maxima)]]
    return maxima[:count]


def top_k_sorted(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the ``k`` largest entries, largest first, ties by lower index."""
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k]


def _squared_residuals(transforms: np.ndarray, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """(b, N) squared residuals ||R src_j + t - tgt_j||^2 of (b, 4, 4) transforms, summed x + y + z in place
    (the same sums, bit for bit, as ``np.sum(..., axis=2)``, without its slow reduction over a length-3 axis)."""
    d = src[None] @ transforms[:, :3, :3].transpose(0, 2, 1) + transforms[:, None, :3, 3]
    d -= tgt[None]
    d *= d
    r2 = d[..., 0] + d[..., 1]
    r2 += d[..., 2]
    return r2


def truncated_scores(transforms: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float,
                     chunk: int = 256) -> np.ndarray:
    """Score of each (b, 4, 4) transform: mean_j 1[r_j < eps] (1 - r_j^2 / eps^2)."""
    out = np.empty(len(transforms))
    for start in range(0, len(transforms), chunk):
        r2 = _squared_residuals(transforms[start:start + chunk], src, tgt)
        r2 /= eps * eps
        np.subtract(1.0, r2, out=r2)
        np.maximum(r2, 0.0, out=r2)  # 1 - r2 where r2 < 1, else 0
        out[start:start + chunk] = np.mean(r2, axis=1)
    return out


def inlier_counts(transforms: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float,
                  chunk: int = 256) -> np.ndarray:
    """Number of matches with residual below ``eps`` under each (b, 4, 4) transform."""
    out = np.empty(len(transforms), dtype=np.int64)
    for start in range(0, len(transforms), chunk):
        r2 = _squared_residuals(transforms[start:start + chunk], src, tgt)
        out[start:start + chunk] = np.count_nonzero(r2 < eps * eps, axis=1)
    return out


def fit_hypotheses(groups: np.ndarray, weights: np.ndarray, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """Weighted Kabsch for every hypothesis: ``groups`` (b, k) match indices, ``weights`` (b, k)."""
    return weighted_kabsch(src[groups], tgt[groups], weights)


def refine(transform: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float, rounds: int = 20,
           stop: str = "count") -> tuple[np.ndarray, np.ndarray]:
    """Re-fit on the matches with r < eps, weights 1/(1 + (r/eps)^2), for at most ``rounds`` fits.

    ``stop="count"`` (SC2-PCR / VBReg ``post_refinement``): stop when the number of matches with r < eps is
    the same as at the previous round (the first round compares with 0). ``stop="set"`` (the workbench's
    variant): stop when the set itself is unchanged. Fewer than 3 non-collinear inliers stop the loop (the
    reference would fit a rotation to them anyway).
    """
    if stop not in ("count", "set"):
        raise ValueError(f"stop must be 'count' or 'set', got {stop!r}")
    previous = np.zeros(len(src), bool)
    for _ in range(rounds):
        r = np.linalg.norm(apply_transform(src, transform) - tgt, axis=1)
        mask = r < eps
        if (mask.sum() == previous.sum()) if stop == "count" else np.array_equal(mask, previous):
            break
        if mask.sum() < 3 or is_degenerate_set(src[mask]):
            break
        previous = mask
        transform = weighted_kabsch(src[mask], tgt[mask], 1.0 / (1.0 + (r[mask] / eps) ** 2))
    mask = np.linalg.norm(apply_transform(src, transform) - tgt, axis=1) < eps
    return transform, mask


def finish(best: np.ndarray, src: np.ndarray, tgt: np.ndarray, eps: float, confidence: np.ndarray,
           info: dict[str, float], stop: str = "count") -> Estimate:
    """Refine the chosen hypothesis and decide the status: fewer than 3 non-collinear inliers is ill-posed."""
    transform, mask = refine(best, src, tgt, eps, stop=stop)
    if mask.sum() < 3 or is_degenerate_set(src[mask]):
        est = ill_posed(len(src), f"only {int(mask.sum())} consistent matches (need 3 non-collinear)")
        est.info.update(info)
        return est
    info = dict(info, n_inliers=float(mask.sum()))
    return Estimate(transform, mask, confidence, "ok", info)
