"""Registration metrics as VBReg/SC2-PCR compute them: RE (deg), TE, success presets, inlier P/R/F1."""

from __future__ import annotations

import numpy as np

from workbench.api import Curves

#: Success thresholds: (max RE in degrees, max TE in data units, i.e. metres for real scans).
PRESETS: dict[str, tuple[float, float]] = {"3dmatch": (15.0, 0.30), "kitti": (5.0, 0.60)}


def rotation_error_deg(r_est: np.ndarray, r_true: np.ndarray) -> float:
    """Geodesic angle between two rotations: arccos((tr(R_est^T R_true) - 1) / 2) in degrees."""
    cos = (np.trace(np.asarray(r_est)[:3, :3].T @ np.asarray(r_true)[:3, :3]) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def translation_error(t_est: np.ndarray, t_true: np.ndarray) -> float:
    """Plain Euclidean norm of the translation difference (the papers' Eq. shows a square; the code does not)."""
    return float(np.linalg.norm(np.asarray(t_est)[:3, 3] - np.asarray(t_true)[:3, 3]))


def is_success(re_deg: float, te: float, preset: str | tuple[float, float] = "3dmatch") -> bool:
    """RE and TE both strictly below the preset's thresholds."""
    max_re, max_te = PRESETS[preset] if isinstance(preset, str) else preset
    return bool(re_deg < max_re and te < max_te)


def inlier_scores(kept: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Inlier precision (kept true / kept), recall (kept true / all true) and F1."""
    kept = np.asarray(kept, bool)
    truth = np.asarray(truth, bool)
    tp = float(np.sum(kept & truth))
    precision = tp / kept.sum() if kept.any() else 0.0
    recall = tp / truth.sum() if truth.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"inlier_precision": precision, "inlier_recall": recall, "inlier_f1": f1}


def pose_metrics(estimate: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """RE, TE and success under both presets."""
    re_deg = rotation_error_deg(estimate, truth)
    te = translation_error(estimate, truth)
    return {"RE_deg": re_deg, "TE": te, "success_3dmatch": float(is_success(re_deg, te, "3dmatch")),
            "success_kitti": float(is_success(re_deg, te, "kitti"))}


def residual_histogram(residuals: np.ndarray, eps: float, bins: int = 40, name: str = "residuals") -> Curves:
    """Histogram of match residuals under the estimate (clipped at 4 eps) with the eps line."""
    clipped = np.clip(residuals, 0, 4 * eps)
    counts, edges = np.histogram(clipped, bins=bins, range=(0, 4 * eps))
    centres = (edges[:-1] + edges[1:]) / 2
    top = float(max(counts.max(), 1)) if len(counts) else 1.0
    return Curves(name=name, title="Residual histogram (last bin: >= 4 eps)", x_label="residual |R x + t - y|",
                  y_label="matches", series={"matches": np.vstack([centres, counts]),
                                             f"eps = {eps:g}": np.array([[eps, eps], [0.0, top]])})
