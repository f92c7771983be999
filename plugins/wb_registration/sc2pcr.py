"""SC2-PCR (Chen et al., CVPR 2022) in numpy: second-order spatial compatibility, seeds, two-stage
consensus sampling, spectral weights, max-consensus selection and refinement. Training-free.
"""

from __future__ import annotations

import time

import numpy as np

from wb_registration.consensus import (
    Estimate,
    finish,
    fit_hypotheses,
    ill_posed,
    inlier_counts,
    leading_eigenvector,
    length_consistency,
    nms_seeds,
    soft_compatibility,
)


def sc2_pcr(src: np.ndarray, tgt: np.ndarray, eps: float, seed_ratio: float = 0.2, k1: int = 30,
            k2: int = 20, nms_radius: float | None = None) -> Estimate:
    """Register matched points ``src[i] <-> tgt[i]`` with SC2-PCR; ``eps`` is the inlier threshold (= sigma_d)."""
    n = len(src)
    if n < 3:
        return ill_posed(n, f"{n} matches (need at least 3)")
    t0 = time.perf_counter()
    d = length_consistency(src, tgt)
    beta = soft_compatibility(d, eps)
    hard = (d < eps).astype(np.float32)
    tight = (d < eps / 2).astype(np.float32)
    np.fill_diagonal(hard, 0.0)
    np.fill_diagonal(tight, 0.0)
    confidence = leading_eigenvector(beta)
    seeds = nms_seeds(confidence, src, eps if nms_radius is None else nms_radius, max(1, int(seed_ratio * n)))
    sc2 = (hard[seeds] @ hard) * hard[seeds]
    k1 = min(k1, n - 1)
    cand = np.argpartition(-sc2, k1 - 1, axis=1)[:, :k1]
    groups = np.c_[seeds, cand]
    sub = tight[groups[:, :, None], groups[:, None, :]]
    local = (sub @ sub) * sub
    k2 = min(k2, groups.shape[1])
    keep = 1 + np.argsort(-local[:, 0, 1:], axis=1, kind="stable")[:, :k2 - 1]
    groups = np.c_[seeds, np.take_along_axis(groups, keep, axis=1)]
    weight_m = beta[groups[:, :, None], groups[:, None, :]]
    weights = leading_eigenvector(weight_m)
    weights[weights.sum(axis=1) <= 0] = 1.0
    transforms = fit_hypotheses(groups, weights, src, tgt)
    counts = inlier_counts(transforms, src, tgt, eps)
    best = transforms[int(np.argmax(counts))]
    info = {"time_sc2_s": time.perf_counter() - t0, "n_seeds": float(len(seeds))}
    return finish(best, src, tgt, eps, confidence / max(confidence.max(), 1e-12), info)
