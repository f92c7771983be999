"""CLIM's mosaics: captioned images tiled into N x N grids, one pseudo-box per cell, labelled by its caption.

Tiling is row-major: image ``m * N + n`` goes to row ``m``, column ``n``, and its pseudo-box is the normalised cell
``[n / N, m / N, (n + 1) / N, (m + 1) / N]`` in the same order, so the boxes tile the unit square. A batch of ``B``
images is split as in CLIM: every group of ``sum(N^2 for N in grids)`` images gives one mosaic per grid size (with
``(2, 3, 4)``, 29 images), and the ``B mod group`` images left over stay single images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

CLIM_GRIDS = (2, 3, 4)


@dataclass
class Mosaic:
    """A tiled image, its normalised pseudo-boxes ``(N*N, 4)`` (row-major) and the captions and source indices
    of its cells in the same order."""

    image: np.ndarray
    grid: int
    boxes: np.ndarray
    captions: list[str]
    sources: list[int]

    def pixel_boxes(self) -> np.ndarray:
        """The pseudo-boxes in the mosaic's pixels (x0, y0, x1, y1)."""
        h, w = self.image.shape[:2]
        return self.boxes * np.array([w, h, w, h], np.float64)


def cell_boxes(grid: int) -> np.ndarray:
    """Normalised row-major grid cells ``(grid * grid, 4)``: ``[n/N, m/N, (n+1)/N, (m+1)/N]`` for row m, column n."""
    if grid < 1:
        raise ValueError(f"a mosaic grid must be at least 1x1, got {grid}")
    m, n = np.divmod(np.arange(grid * grid), grid)
    return np.stack([n / grid, m / grid, (n + 1) / grid, (m + 1) / grid], 1).astype(np.float64)


def build_mosaic(images: Sequence[np.ndarray], captions: Sequence[str], grid: int, cell_size: int | None = None,
                 sources: Sequence[int] | None = None) -> Mosaic:
    """Tile ``grid * grid`` images row-major; each is resized (bicubic) to a ``cell_size`` square (default: the
    first image's height) so that the mosaic is ``grid * cell_size`` pixels square."""
    if len(images) != grid * grid:
        raise ValueError(f"a {grid}x{grid} mosaic needs {grid * grid} images, got {len(images)}")
    if len(captions) != len(images):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    cell = int(cell_size or np.asarray(images[0]).shape[0])
    canvas = np.zeros((grid * cell, grid * cell, 3), np.uint8)
    for k, image in enumerate(images):
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image {k}: expected an RGB array HxWx3, got shape {image.shape}")
        if image.shape[:2] != (cell, cell):
            image = cv2.resize(image, (cell, cell), interpolation=cv2.INTER_CUBIC)
        m, n = divmod(k, grid)
        canvas[m * cell:(m + 1) * cell, n * cell:(n + 1) * cell] = image
    return Mosaic(image=canvas, grid=grid, boxes=cell_boxes(grid), captions=list(captions),
                  sources=list(sources) if sources is not None else list(range(len(images))))


def split_batch(batch_size: int, grids: Sequence[int] = CLIM_GRIDS) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """CLIM's split of a batch: ``([(grid, image indices), ...], single indices)``.

    Each group of ``sum(N^2)`` consecutive images gives one mosaic per grid (in ``grids`` order); the rest are
    singles. ``B = 32`` with ``(2, 3, 4)``: one group of 29 (a 2x2, a 3x3 and a 4x4 mosaic) and 3 singles.
    """
    per_group = sum(g * g for g in grids)
    if not grids or per_group < 1:
        raise ValueError("give at least one grid size")
    groups = batch_size // per_group
    plan, start = [], 0
    for _ in range(groups):
        for g in grids:
            plan.append((g, list(range(start, start + g * g))))
            start += g * g
    return plan, list(range(start, batch_size))


def build_mosaics(images: Sequence[np.ndarray], captions: Sequence[str], grids: Sequence[int] = CLIM_GRIDS,
                  cell_size: int | None = None) -> tuple[list[Mosaic], list[int]]:
    """The mosaics of a batch (see :func:`split_batch`) and the indices of its single images."""
    plan, singles = split_batch(len(images), grids)
    mosaics = [build_mosaic([images[i] for i in idx], [captions[i] for i in idx], g, cell_size, idx)
               for g, idx in plan]
    return mosaics, singles
