"""SC2-PCR (Chen et al., CVPR 2022) in numpy: second-order spatial compatibility, seeds, two-stage
consensus sampling, spectral weights, max-consensus selection and refinement. Training-free.

``variant="reference"`` (the default) follows the authors' ``SC2_PCR.py`` (ZhiChen902/SC2-PCR @ 19961ea);
``variant="workbench"`` is this project's earlier reading of the paper, kept for comparison. They differ in
seven steps (see :data:`VARIANT_STEPS`); docs/fidelity.md gives the measured effect.
Ties in every ranking go to the lower match index (the reference leaves the order of exact ties to the
sort of the device it runs on).
"""

from __future__ import annotations

import time

import numpy as np

from wb_registration.consensus import (
    Estimate,
    finish,
    fit_hypotheses,
    ill_posed,
    indicator_product,
    inlier_counts,
    leading_eigenvector,
    nms_seeds,
    pairwise_distances,
    soft_compatibility,
    top_k_sorted,
)

#: What ``workbench`` does differently from ``reference``, step by step.
VARIANT_STEPS = {
    "diagonals": "reference: the compatibility matrices keep d_ii = 0 as compatible (diagonal 1); workbench: "
                 "a match is not evidence for itself (diagonal 0)",
    "sc2_thresholds": "reference: SC2[s, j] counts matches within eps/2 of both s and j, masked by |d_sj| < eps; "
                      "workbench: eps for both the count and the mask",
    "first_stage": "reference: the k1 matches with the highest SC2 (the seed usually among them); workbench: "
                   "the seed plus its k1 best other matches",
    "second_stage": "reference: re-rank by the group's first row of the eps graph squared, unmasked; workbench: "
                    "by the seed's row of the masked eps/2 SC2 inside the group",
    "power_iteration": "reference: at most 10 float32 steps, stopping when all hypotheses converged; workbench: "
                       "always 10 float64 steps",
    "seed_filling": "reference: rank by confidence x is_local_max (non-maxima in index order); workbench: local "
                    "maxima, then the rest by confidence",
    "refinement_stop": "reference: stop when the inlier count is unchanged; workbench: when the inlier set is",
}


def sc2_pcr(src: np.ndarray, tgt: np.ndarray, eps: float, seed_ratio: float = 0.2, k1: int = 30,
            k2: int = 20, nms_radius: float | None = None, variant: str = "reference",
            return_stages: bool = False) -> Estimate:
    """Register matched points ``src[i] <-> tgt[i]`` with SC2-PCR; ``eps`` is the inlier threshold (= sigma_d).

    With ``return_stages`` the estimate's ``stages`` holds the intermediate arrays (matrices, seeds,
    groups, weights, hypotheses) for inspection and the parity tests.
    """
    if variant not in ("reference", "workbench"):
        raise ValueError(f"sc2_variant must be 'reference' or 'workbench', got {variant!r}")
    n = len(src)
    if n < 3:
        return ill_posed(n, f"{n} matches (need at least 3)")
    t0 = time.perf_counter()
    src_dist = pairwise_distances(src)
    d = np.abs(src_dist - pairwise_distances(tgt))
    radius = eps if nms_radius is None else nms_radius
    n_seeds = max(1, int(seed_ratio * n))
    stages = _reference(d, src_dist, eps, radius, n_seeds, k1, k2) if variant == "reference" else \
        _workbench(d, src_dist, eps, radius, n_seeds, k1, k2)
    transforms = fit_hypotheses(stages["groups"], stages["weights"], src, tgt)
    if variant == "reference":  # all-zero weights: the reference's weighted SVD of a zero matrix is the identity
        transforms[stages["weights"].sum(axis=1) <= 0] = np.eye(4)
    counts = inlier_counts(transforms, src, tgt, eps)
    best = transforms[int(np.argmax(counts))]
    info = {"time_sc2_s": time.perf_counter() - t0, "n_seeds": float(len(stages["seeds"]))}
    confidence = stages["confidence"].astype(np.float64)
    est = finish(best, src, tgt, eps, confidence / max(confidence.max(), 1e-12), info,
                 stop="count" if variant == "reference" else "set")
    if return_stages:
        est.stages = dict(stages, transforms=transforms, counts=counts, best=best)
    return est


def _reference(d, src_dist, eps, radius, n_seeds, k1, k2) -> dict[str, np.ndarray]:
    n = len(d)
    beta = soft_compatibility(d, eps, zero_diagonal=False)
    hard = (d < eps).astype(np.float32)
    confidence = leading_eigenvector(beta, early_stop=True)
    seeds = nms_seeds(confidence, src_dist, radius, n_seeds, fill="reference")
    tight = (d < eps / 2).astype(np.float32)
    sc2 = indicator_product(tight[seeds], tight) * hard[seeds]
    if k1 > n:  # the reference falls back to 4 and 4 when there are fewer matches than k1
        k1 = k2 = min(4, n)
    k2 = min(k2, k1)
    first = top_k_sorted(sc2, k1)
    local_hard = (d[first[:, :, None], first[:, None, :]] < eps).astype(np.float32)
    local_sc2 = np.einsum("sj,sjk->sk", local_hard[:, 0, :], local_hard)
    groups = np.take_along_axis(first, top_k_sorted(local_sc2, k2), axis=1)
    weight_m = beta[groups[:, :, None], groups[:, None, :]]
    idx = np.arange(groups.shape[1])
    weight_m[:, idx, idx] = 0.0
    weights = leading_eigenvector(weight_m, early_stop=True)
    weights = weights / (weights.sum(axis=1, keepdims=True) + np.float32(1e-6))
    return {"beta": beta, "hard": hard, "tight": tight, "confidence": confidence, "seeds": seeds, "sc2": sc2,
            "first_groups": first, "groups": groups, "weights": weights}


def _workbench(d, src_dist, eps, radius, n_seeds, k1, k2) -> dict[str, np.ndarray]:
    n = len(d)
    beta = soft_compatibility(d, eps)
    hard = (d < eps).astype(np.float32)
    tight = (d < eps / 2).astype(np.float32)
    np.fill_diagonal(hard, 0.0)
    np.fill_diagonal(tight, 0.0)
    confidence = leading_eigenvector(beta)
    seeds = nms_seeds(confidence, src_dist, radius, n_seeds, fill="confidence")
    sc2 = indicator_product(hard[seeds], hard) * hard[seeds]
    k1 = min(k1, n - 1)
    sc2_others = sc2.copy()
    sc2_others[np.arange(len(seeds)), seeds] = -np.inf
    first = np.c_[seeds, top_k_sorted(sc2_others, k1)]
    sub = tight[first[:, :, None], first[:, None, :]]
    local = (sub @ sub) * sub
    k2 = min(k2, first.shape[1])
    keep = 1 + top_k_sorted(local[:, 0, 1:], k2 - 1)
    groups = np.c_[seeds, np.take_along_axis(first, keep, axis=1)]
    weights = leading_eigenvector(beta[groups[:, :, None], groups[:, None, :]])
    weights[weights.sum(axis=1) <= 0] = 1.0
    return {"beta": beta, "hard": hard, "tight": tight, "confidence": confidence, "seeds": seeds, "sc2": sc2,
            "first_groups": first, "groups": groups, "weights": weights}
