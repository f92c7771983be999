"""The synthetic pair generator: a shape, a random rigid motion, a partial-overlap crop, noise, and
putative matches with a chosen fraction of outliers drawn from one of three outlier models.

Labels are recomputed geometrically (``||R x + t - y|| < eps``) so an outlier that happens to land near
its true position counts as an inlier, as in the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wb_registration.geometry import apply_transform, make_transform, random_rotation
from wb_registration.shapes import sample_shape

OUTLIER_MODELS = ("surface", "box", "structured")


@dataclass
class SyntheticPair:
    """Two clouds, the true transform (source -> target) and putative matches into them.

    ``target`` holds the target surface followed by any off-surface outlier ends (box or structured), so
    ``correspondences[:, 1]`` always indexes ``target``; ``n_target_surface`` says where the surface ends.
    """

    source: np.ndarray
    target: np.ndarray
    transform: np.ndarray
    correspondences: np.ndarray
    truth: np.ndarray
    n_target_surface: int

    @property
    def matches(self) -> tuple[np.ndarray, np.ndarray]:
        return self.source[self.correspondences[:, 0]], self.target[self.correspondences[:, 1]]


def _crop_mask(points: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    """Keep the fraction ``keep`` of ``points`` on one side of a random plane through the cloud."""
    if keep >= 1.0:
        return np.ones(len(points), bool)
    direction = rng.normal(size=3)
    proj = points @ (direction / np.linalg.norm(direction))
    return proj <= np.quantile(proj, keep)


def make_pair(shape: str = "dem", n_points: int = 5000, rotation_max_deg: float = 180.0,
              translation: float = 0.5, noise: float = 0.005, overlap: float = 1.0, n_matches: int = 1000,
              outlier_ratio: float = 0.0, outlier_model: str = "surface", eps: float = 0.03,
              seed: int = 0) -> SyntheticPair:
    """Generate one pair (see the module docstring). ``overlap`` is the fraction each copy keeps."""
    if outlier_model not in OUTLIER_MODELS:
        raise ValueError(f"outlier_model: unknown model {outlier_model!r}; use one of {', '.join(OUTLIER_MODELS)}")
    if not 0.0 <= outlier_ratio <= 1.0:
        raise ValueError(f"outlier_ratio: must be in [0, 1], got {outlier_ratio}")
    rng = np.random.default_rng(seed)
    shape_pts = sample_shape(shape, n_points, rng)
    truth_t = make_transform(random_rotation(rng, rotation_max_deg), rng.uniform(-translation, translation, 3))
    keep_src = _crop_mask(shape_pts, overlap, rng) if overlap < 1 else np.ones(len(shape_pts), bool)
    keep_tgt = _crop_mask(shape_pts, overlap, rng) if overlap < 1 else np.ones(len(shape_pts), bool)
    src_ids, tgt_ids = np.flatnonzero(keep_src), np.flatnonzero(keep_tgt)
    source = shape_pts[src_ids]
    target = apply_transform(shape_pts[tgt_ids], truth_t) + rng.normal(0.0, noise, (len(tgt_ids), 3))
    common = np.intersect1d(src_ids, tgt_ids)
    if len(common) < 3:
        raise ValueError(f"overlap: {overlap} leaves {len(common)} common points; raise overlap or n_points")
    src_pos = {v: i for i, v in enumerate(src_ids)}
    tgt_pos = {v: i for i, v in enumerate(tgt_ids)}
    picks = common[rng.choice(len(common), size=n_matches, replace=len(common) < n_matches)]
    corr = np.array([[src_pos[v], tgt_pos[v]] for v in picks], dtype=np.int64).reshape(-1, 2)
    n_out = int(round(outlier_ratio * n_matches))
    bad = rng.choice(n_matches, size=n_out, replace=False)
    extra = np.zeros((0, 3))
    if outlier_model == "surface":
        corr[bad, 1] = rng.integers(0, len(target), n_out)
    elif outlier_model == "box":
        lo, hi = target.min(axis=0), target.max(axis=0)
        extra = rng.uniform(lo, hi, (n_out, 3))
    else:
        decoy = make_transform(random_rotation(rng, 180.0), rng.uniform(-translation, translation, 3))
        half = n_out // 2
        extra = apply_transform(source[corr[bad[:half], 0]], decoy) + rng.normal(0.0, noise, (half, 3))
        corr[bad[half:], 1] = rng.integers(0, len(target), n_out - half)
        bad = bad[:half]
    if len(extra):
        corr[bad, 1] = len(target) + np.arange(len(extra))
    n_surface = len(target)
    target = np.vstack([target, extra])
    residual = np.linalg.norm(apply_transform(source[corr[:, 0]], truth_t) - target[corr[:, 1]], axis=1)
    return SyntheticPair(source=source, target=target, transform=truth_t, correspondences=corr,
                         truth=residual < eps, n_target_surface=n_surface)


def structured_decoy_pair(n_matches: int = 1000, inlier_fraction: float = 0.2, decoy_fraction: float = 0.4,
                          noise: float = 0.002, eps: float = 0.03, seed: int = 0) -> tuple[SyntheticPair, np.ndarray]:
    """Matches where a second rigid motion (the decoy) has more support than the true one.

    Returns the pair and the decoy transform: a max-consensus estimator must return the decoy.
    """
    rng = np.random.default_rng(seed)
    source = sample_shape("dem", 4 * n_matches, rng)[:n_matches]
    truth_t = make_transform(random_rotation(rng, 180.0), rng.uniform(-0.5, 0.5, 3))
    decoy_t = make_transform(random_rotation(rng, 180.0), rng.uniform(-0.5, 0.5, 3))
    n_in, n_decoy = int(inlier_fraction * n_matches), int(decoy_fraction * n_matches)
    target = rng.uniform(-1.5, 1.5, (n_matches, 3))
    target[:n_in] = apply_transform(source[:n_in], truth_t)
    target[n_in:n_in + n_decoy] = apply_transform(source[n_in:n_in + n_decoy], decoy_t)
    target += rng.normal(0.0, noise, target.shape)
    corr = np.c_[np.arange(n_matches), np.arange(n_matches)]
    residual = np.linalg.norm(apply_transform(source, truth_t) - target, axis=1)
    pair = SyntheticPair(source=source, target=target, transform=truth_t, correspondences=corr,
                         truth=residual < eps, n_target_surface=n_matches)
    return pair, decoy_t
