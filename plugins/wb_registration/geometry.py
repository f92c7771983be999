"""Rigid-motion algebra in numpy: (weighted) Kabsch, 4x4 transforms, rigidity checks, rotations."""

from __future__ import annotations

import numpy as np


def make_transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Pack R (3x3) and t (3,) into a 4x4 homogeneous transform."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


def apply_transform(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Apply a 4x4 rigid transform to (n, 3) points."""
    return points @ transform[:3, :3].T + transform[:3, 3]


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverse of a rigid transform without a general matrix inverse."""
    rot = transform[:3, :3]
    return make_transform(rot.T, -rot.T @ transform[:3, 3])


def rotation_about_axis(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rodrigues' formula: rotation by ``angle_rad`` about ``axis`` (normalised here)."""
    axis = np.asarray(axis, float)
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * k @ k


def random_rotation(rng: np.random.Generator, max_angle_deg: float = 180.0) -> np.ndarray:
    """A rotation about a uniformly random axis by an angle drawn from U(0, max_angle_deg)."""
    axis = rng.normal(size=3)
    angle = np.deg2rad(rng.uniform(0.0, max_angle_deg))
    return rotation_about_axis(axis, angle)


def weighted_kabsch(src: np.ndarray, tgt: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares rigid transform mapping ``src`` onto ``tgt`` (both (n, 3)); det R = +1 always.

    Batched when given (b, n, 3) arrays and (b, n) weights: returns (b, 4, 4).
    """
    src = np.asarray(src, float)
    tgt = np.asarray(tgt, float)
    batched = src.ndim == 3
    if not batched:
        src, tgt = src[None], tgt[None]
        weights = None if weights is None else np.asarray(weights, float)[None]
    if weights is None:
        weights = np.ones(src.shape[:2])
    w = np.clip(np.asarray(weights, float), 0.0, None)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / src.shape[1])
    mx = np.einsum("bn,bnk->bk", w, src)
    my = np.einsum("bn,bnk->bk", w, tgt)
    h = np.einsum("bn,bni,bnj->bij", w, src - mx[:, None], tgt - my[:, None])
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.transpose(0, 2, 1) @ u.transpose(0, 2, 1)))
    d[d == 0] = 1.0
    diag = np.zeros((len(d), 3, 3))
    diag[:, 0, 0] = diag[:, 1, 1] = 1.0
    diag[:, 2, 2] = d
    rot = vt.transpose(0, 2, 1) @ diag @ u.transpose(0, 2, 1)
    trans = my - np.einsum("bij,bj->bi", rot, mx)
    out = np.tile(np.eye(4), (len(rot), 1, 1))
    out[:, :3, :3] = rot
    out[:, :3, 3] = trans
    return out if batched else out[0]


def rigidity_error(transform: np.ndarray) -> str:
    """Empty when ``transform`` is a finite 4x4 rigid motion, else a sentence saying what is wrong."""
    t = np.asarray(transform, float)
    if t.shape != (4, 4):
        return f"expected a 4x4 matrix, got shape {t.shape}"
    if not np.all(np.isfinite(t)):
        return "contains NaN or inf"
    if not np.allclose(t[3], [0, 0, 0, 1], atol=1e-6):
        return f"last row is {t[3].tolist()}, expected [0, 0, 0, 1]"
    rot = t[:3, :3]
    ortho = float(np.max(np.abs(rot.T @ rot - np.eye(3))))
    if ortho > 1e-4:
        return f"the 3x3 block is not orthonormal (max |R^T R - I| = {ortho:.3g}; scaling or shear?)"
    if np.linalg.det(rot) < 0:
        return "the 3x3 block is a reflection (det R = -1)"
    return ""


def is_degenerate_set(points: np.ndarray, tol: float = 1e-6) -> bool:
    """True when fewer than 3 points or they are (nearly) collinear: a rotation is then not determined."""
    if len(points) < 3:
        return True
    centred = points - points.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    return bool(sv[1] <= tol * max(sv[0], 1e-12))
