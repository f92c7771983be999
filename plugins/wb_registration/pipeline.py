"""The register pipeline: get a pair (synthetic matches, synthetic clouds through FPFH, or files), match,
estimate, check for pose ambiguity, refine with ICP and measure against the truth when there is one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from wb_registration.consensus import Estimate, ill_posed
from wb_registration.geometry import apply_transform, rotation_about_axis
from wb_registration.metrics import inlier_scores, pose_metrics
from wb_registration.params import RegisterParams
from wb_registration.readers import (
    RegistrationInputError,
    read_cloud,
    read_correspondences,
    read_transform,
    validate_cloud,
)

log = logging.getLogger(__name__)

SYMMETRY_ANGLE_DEG = 45.0
SYMMETRY_KEEP = 0.9


@dataclass
class Pair:
    """Clouds, matches into them (``corr[:, 0]`` into source, ``corr[:, 1]`` into target) and what is known."""

    source: np.ndarray
    target: np.ndarray
    corr: np.ndarray
    eps: float
    truth: np.ndarray | None = None
    voxel: float | None = None
    target_surface: int | None = None
    from_geometry: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def matched(self) -> tuple[np.ndarray, np.ndarray]:
        return self.source[self.corr[:, 0]], self.target[self.corr[:, 1]]

    @property
    def surface(self) -> np.ndarray:
        return self.target if self.target_surface is None else self.target[:self.target_surface]


def _cap_points(points: np.ndarray, limit: int, where: str, rng: np.random.Generator,
                warnings: list[str]) -> np.ndarray:
    if len(points) <= limit:
        return points
    msg = f"{where}: {len(points)} points exceed max_points={limit}; randomly downsampled to {limit}"
    log.warning(msg)
    warnings.append(msg)
    return points[np.sort(rng.choice(len(points), limit, replace=False))]


def _fpfh_matches(pair: Pair, params: RegisterParams, rng: np.random.Generator) -> Pair:
    from wb_registration.open3d_methods import match_features, preprocess

    diag = float(np.linalg.norm(np.ptp(pair.source, axis=0)))
    voxel = params.voxel or 0.01 * diag
    t0 = time.perf_counter()
    src, _, fs = preprocess(pair.source, voxel)
    tgt, _, ft = preprocess(pair.target, voxel)
    t1 = time.perf_counter()
    if len(src) < 3 or len(tgt) < 3:
        raise RegistrationInputError(f"voxel: {voxel:g} leaves {len(src)} source and {len(tgt)} target points; "
                                     "use a smaller voxel")
    corr = match_features(fs, ft, params.mutual, params.max_matches, rng)
    pair.timings.update(fpfh_s=t1 - t0, matching_s=time.perf_counter() - t1)
    return Pair(src, tgt, corr, params.eps or 1.5 * voxel, pair.truth, voxel, None, True, pair.timings, pair.warnings)


def load_pair(params: RegisterParams, seed: int) -> Pair:
    """Build the pair the parameters describe; every problem is a :class:`RegistrationInputError`."""
    rng = np.random.default_rng(seed)
    if params.input in ("synthetic-matches", "synthetic-fpfh"):
        from wb_registration.synthetic import make_pair

        eps = params.eps or 0.03
        try:
            syn = make_pair(params.shape, params.n_points, params.rotation_max_deg, params.translation, params.noise,
                            params.overlap, params.n_matches, params.outlier_ratio, params.outlier_model, eps, seed)
        except ValueError as exc:
            raise RegistrationInputError(str(exc)) from None
        pair = Pair(syn.source, syn.target, syn.correspondences, eps, syn.transform,
                    target_surface=syn.n_target_surface)
        if params.input == "synthetic-matches":
            return pair
        pair.target = pair.surface
        pair.target_surface = None
        return _fpfh_matches(pair, params, rng)
    if not params.source_path or not params.target_path:
        raise RegistrationInputError("source_path and target_path: both are required for input=files")
    warnings: list[str] = []
    truth = read_transform(params.truth_path) if params.truth_path else None
    if params.correspondences_path:
        src_full, tgt_full = read_cloud(params.source_path, drop_invalid=False), read_cloud(params.target_path,
                                                                                            drop_invalid=False)
        corr = read_correspondences(params.correspondences_path, len(src_full), len(tgt_full))
        if corr.shape[1] == 6:
            src_full = validate_cloud(corr[:, :3], params.correspondences_path)
            tgt_full = validate_cloud(corr[:, 3:], params.correspondences_path)
            corr = np.c_[np.arange(len(corr)), np.arange(len(corr))]
        if len(corr) > params.max_matches:
            warnings.append(f"{params.correspondences_path}: {len(corr)} matches capped to {params.max_matches}")
            corr = corr[np.sort(rng.choice(len(corr), params.max_matches, replace=False))]
        return Pair(src_full, tgt_full, corr, params.eps or 0.03, truth, warnings=warnings)
    src_full = _cap_points(read_cloud(params.source_path), params.max_points, params.source_path, rng, warnings)
    tgt_full = _cap_points(read_cloud(params.target_path), params.max_points, params.target_path, rng, warnings)
    return _fpfh_matches(Pair(src_full, tgt_full, np.zeros((0, 2), np.int64), 0.0, truth, warnings=warnings),
                         params, rng)


def self_symmetry(cloud: np.ndarray, threshold: float, angle_deg: float = SYMMETRY_ANGLE_DEG) -> float:
    """The largest fraction of ``cloud`` that still lies within ``threshold`` of itself after turning it by
    ``angle_deg`` about one of its principal axes (through the centroid). Near 1 means a continuous
    rotational symmetry (a sphere, a cylinder, a plane): the pose is then undetermined."""
    from scipy.spatial import cKDTree

    tree = cKDTree(cloud)
    centre = cloud.mean(axis=0)
    axes = np.linalg.svd(cloud - centre, full_matrices=False)[2]
    worst = 0.0
    for axis in axes:
        turned = (cloud - centre) @ rotation_about_axis(axis, np.deg2rad(angle_deg)).T + centre
        worst = max(worst, float(np.mean(tree.query(turned, distance_upper_bound=threshold)[0] < threshold)))
    return worst


def register(pair: Pair, params: RegisterParams, seed: int, vbreg_infer=None) -> tuple[Estimate, dict[str, float]]:
    """Estimate, flag ambiguity, refine; returns the estimate and the measurements (with truth when known)."""
    from wb_registration.estimators import estimate

    x, y = pair.matched
    t0 = time.perf_counter()
    est = estimate(params.method, x, y, pair.eps, params, seed=seed, vbreg_infer=vbreg_infer)
    pair.timings["estimator_s"] = time.perf_counter() - t0
    measures: dict[str, float] = {"n_matches": float(len(x)), "eps": pair.eps}
    if pair.from_geometry and params.symmetry_check:
        fit = self_symmetry(pair.surface, pair.eps)
        measures["self_fit_after_turn"] = fit
        if fit >= SYMMETRY_KEEP:
            est = ill_posed(len(x), f"the target still fits itself ({fit:.0%}) after a {SYMMETRY_ANGLE_DEG:g} "
                                    "degree turn: a rotational symmetry leaves the pose undetermined")
    if est.status == "ok" and params.icp != "off":
        from wb_registration.open3d_methods import icp

        t1 = time.perf_counter()
        fine = 0.4 * pair.voxel if pair.voxel else pair.eps
        stages = [params.icp_threshold] if params.icp_threshold else [pair.eps, fine]
        for thr in stages:
            est.transform, _, _ = icp(pair.source, pair.surface, est.transform, thr, params.icp, params.icp_kernel)
        pair.timings["icp_s"] = time.perf_counter() - t1
        est.inliers = np.linalg.norm(apply_transform(x, est.transform) - y, axis=1) < pair.eps
    from wb_registration.open3d_methods import evaluate

    measures["fitness"], measures["inlier_rmse"] = evaluate(pair.source, pair.surface, est.transform, pair.eps)
    if pair.truth is not None:
        truth_mask = np.linalg.norm(apply_transform(x, pair.truth) - y, axis=1) < pair.eps
        measures["input_inlier_ratio"] = float(truth_mask.mean()) if len(truth_mask) else 0.0
        measures.update(pose_metrics(est.transform, pair.truth))
        measures.update(inlier_scores(est.inliers, truth_mask))
    measures.update({f"time_{k}": v for k, v in pair.timings.items()})
    return est, measures


def truth_mask(pair: Pair) -> np.ndarray:
    if pair.truth is None:
        return np.zeros(0, bool)
    x, y = pair.matched
    return np.linalg.norm(apply_transform(x, pair.truth) - y, axis=1) < pair.eps
