"""Open3D front end and baselines: voxel downsampling, normals, FPFH, feature matching, RANSAC and FGR on
correspondences, and ICP refinement (point-to-point / point-to-plane with robust kernels).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import open3d as o3d

from wb_registration.consensus import Estimate, ill_posed
from wb_registration.geometry import apply_transform

reg = o3d.pipelines.registration
log = logging.getLogger(__name__)


def to_cloud(points: np.ndarray) -> o3d.geometry.PointCloud:
    return o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(points, dtype=np.float64)))


def preprocess(points: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel-downsample, estimate normals (radius 2v, 30 nn) and FPFH (radius 5v, 100 nn, L2-normalised).

    Returns the downsampled points, their normals and the (n, 33) descriptors.
    """
    cloud = to_cloud(points).voxel_down_sample(voxel)
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2 * voxel, max_nn=30))
    fpfh = reg.compute_fpfh_feature(cloud, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * voxel, max_nn=100))
    feats = np.asarray(fpfh.data).T.copy()
    feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    return np.asarray(cloud.points), np.asarray(cloud.normals), feats


def _nearest(queries: np.ndarray, base: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Index of the nearest ``base`` row for each query (Euclidean), by chunked brute force."""
    base32 = base.astype(np.float32)
    base_sq = np.sum(base32 * base32, axis=1)
    out = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk].astype(np.float32)
        out[start:start + chunk] = np.argmin(base_sq[None] - 2 * q @ base32.T, axis=1)
    return out


def match_features(src_feats: np.ndarray, tgt_feats: np.ndarray, mutual: bool, max_matches: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Nearest neighbours in feature space (optionally mutual), capped at ``max_matches`` by random subsampling."""
    fwd = _nearest(src_feats, tgt_feats)
    corr = np.c_[np.arange(len(src_feats)), fwd]
    if mutual:
        back = _nearest(tgt_feats[fwd], src_feats)
        corr = corr[back == corr[:, 0]]
    if len(corr) > max_matches:
        log.warning("%d matches capped to %d (max_matches)", len(corr), max_matches)
        corr = corr[np.sort(rng.choice(len(corr), max_matches, replace=False))]
    return corr


def _estimate_from_result(result, src: np.ndarray, tgt: np.ndarray, eps: float, info: dict) -> Estimate:
    transform = np.asarray(result.transformation).copy()
    residual = np.linalg.norm(apply_transform(src, transform) - tgt, axis=1)
    mask = residual < eps
    if mask.sum() < 3:
        est = ill_posed(len(src), f"only {int(mask.sum())} matches agree with the estimate")
        est.info.update(info)
        return est
    conf = np.clip(1.0 - (residual / eps) ** 2, 0.0, 1.0)
    return Estimate(transform, mask, conf, "ok", dict(info, n_inliers=float(mask.sum())))


def ransac(src: np.ndarray, tgt: np.ndarray, eps: float, max_iterations: int = 100_000, confidence: float = 0.999,
           ransac_n: int = 3, seed: int = 0) -> Estimate:
    """Open3D RANSAC on given matches ``src[i] <-> tgt[i]`` with the edge-length (0.9) and distance checkers."""
    n = len(src)
    if n < 3:
        return ill_posed(n, f"{n} matches (need at least 3)")
    o3d.utility.random.seed(int(seed))
    t0 = time.perf_counter()
    corr = o3d.utility.Vector2iVector(np.c_[np.arange(n), np.arange(n)].astype(np.int32))
    checkers = [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), reg.CorrespondenceCheckerBasedOnDistance(eps)]
    result = reg.registration_ransac_based_on_correspondence(
        to_cloud(src), to_cloud(tgt), corr, eps, reg.TransformationEstimationPointToPoint(False), ransac_n,
        checkers, reg.RANSACConvergenceCriteria(max_iterations, confidence))
    return _estimate_from_result(result, src, tgt, eps, {"time_ransac_s": time.perf_counter() - t0})


def fgr(src: np.ndarray, tgt: np.ndarray, eps: float) -> Estimate:
    """Open3D Fast Global Registration on given matches (maximum correspondence distance = eps)."""
    n = len(src)
    if n < 3:
        return ill_posed(n, f"{n} matches (need at least 3)")
    t0 = time.perf_counter()
    corr = o3d.utility.Vector2iVector(np.c_[np.arange(n), np.arange(n)].astype(np.int32))
    option = reg.FastGlobalRegistrationOption(maximum_correspondence_distance=eps)
    result = reg.registration_fgr_based_on_correspondence(to_cloud(src), to_cloud(tgt), corr, option)
    return _estimate_from_result(result, src, tgt, eps, {"time_fgr_s": time.perf_counter() - t0})


ROBUST_KERNELS = ("none", "huber", "cauchy", "tukey", "gm", "l1")


def icp(source: np.ndarray, target: np.ndarray, init: np.ndarray, threshold: float, method: str = "point-to-plane",
        kernel: str = "tukey", kernel_scale: float | None = None, max_iterations: int = 30,
        target_normals: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """Refine ``init`` with ICP; returns (transform, fitness, inlier_rmse)."""
    scale = threshold if kernel_scale is None else kernel_scale
    loss = {"none": None, "huber": reg.HuberLoss, "cauchy": reg.CauchyLoss, "tukey": reg.TukeyLoss,
            "gm": reg.GMLoss, "l1": reg.L1Loss}[kernel]
    loss_obj = None if loss is None else (loss() if kernel == "l1" else loss(scale))
    src, tgt = to_cloud(source), to_cloud(target)
    if method == "point-to-plane":
        if target_normals is not None:
            tgt.normals = o3d.utility.Vector3dVector(np.ascontiguousarray(target_normals, dtype=np.float64))
        else:
            tgt.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=5 * threshold, max_nn=30))
        est = (reg.TransformationEstimationPointToPlane(loss_obj) if loss_obj
               else reg.TransformationEstimationPointToPlane())
    else:
        est = reg.TransformationEstimationPointToPoint(False)
    result = reg.registration_icp(src, tgt, threshold, np.asarray(init, float), est,
                                  reg.ICPConvergenceCriteria(1e-6, 1e-6, max_iterations))
    return np.asarray(result.transformation).copy(), float(result.fitness), float(result.inlier_rmse)


def evaluate(source: np.ndarray, target: np.ndarray, transform: np.ndarray, threshold: float) -> tuple[float, float]:
    """Open3D's fitness (inliers / source points) and inlier RMSE of any transform."""
    result = reg.evaluate_registration(to_cloud(source), to_cloud(target), threshold, np.asarray(transform, float))
    return float(result.fitness), float(result.inlier_rmse)
