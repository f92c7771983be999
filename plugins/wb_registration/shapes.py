"""Offline shapes for synthetic pairs: a real terrain (matplotlib's DEM), an asymmetric blob and a sphere.

Every shape is centred and scaled to unit size (max |coordinate| about 1). The sphere is rotationally
symmetric on purpose: its pose is ill-posed, which the pipeline must say.
"""

from __future__ import annotations

import functools

import numpy as np

SHAPES = ("dem", "blob", "sphere")


@functools.lru_cache(maxsize=1)
def dem_grid() -> np.ndarray:
    """All (344*403, 3) points of matplotlib's Jacksboro fault elevation model, relief exaggerated, unit scale."""
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("jacksboro_fault_dem.npz") as data:
        elevation = np.asarray(data["elevation"], float)
    rows, cols = elevation.shape
    yy, xx = np.meshgrid(np.linspace(-1, 1, rows) * rows / cols, np.linspace(-1, 1, cols), indexing="ij")
    zz = (elevation - elevation.mean()) / (elevation.max() - elevation.min()) * 0.6
    return np.c_[xx.ravel(), yy.ravel(), zz.ravel()]


def _fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5 ** 0.5) * i
    return np.c_[np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)]


def _blob(n: int) -> np.ndarray:
    """A sphere whose radius is modulated by fixed low-frequency bumps: no symmetry left."""
    dirs = _fibonacci_sphere(n)
    bumps = np.random.default_rng(7).normal(size=(6, 3))
    bumps /= np.linalg.norm(bumps, axis=1, keepdims=True)
    radius = 1.0 + sum(a * np.exp(4.0 * (dirs @ b - 1)) for a, b in zip([0.5, 0.35, 0.3, -0.25, 0.4, 0.2], bumps))
    return dirs * radius[:, None]


def sample_shape(name: str, n_points: int, rng: np.random.Generator) -> np.ndarray:
    """``n_points`` points of shape ``name``, unit scale, in a random order given by ``rng``."""
    if name == "dem":
        grid = dem_grid()
        pts = grid[rng.choice(len(grid), size=min(n_points, len(grid)), replace=False)]
    elif name == "blob":
        pts = _blob(n_points)
    elif name == "sphere":
        pts = _fibonacci_sphere(n_points)
    else:
        raise ValueError(f"shape: unknown shape {name!r}; use one of {', '.join(SHAPES)}")
    pts = pts - pts.mean(axis=0)
    pts = pts / np.max(np.abs(pts))
    return pts[rng.permutation(len(pts))]
