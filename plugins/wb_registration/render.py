"""Software rendering of registrations: an orthographic numpy z-buffer (works offscreen, no GL) for the
before/after overlay and the correspondence view, plus the residual histogram as curves.
"""

from __future__ import annotations

import numpy as np

from wb_registration.geometry import apply_transform, rotation_about_axis
from workbench.api import Curves, ImageGrid

SOURCE = np.array([230, 126, 34], np.uint8)
TARGET = np.array([41, 128, 185], np.uint8)
TRUTH = np.array([150, 150, 150], np.uint8)
TRUE_POS = np.array([39, 174, 96], np.uint8)
FALSE_POS = np.array([243, 156, 18], np.uint8)
REJECTED = np.array([192, 57, 43], np.uint8)


def view_rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    return rotation_about_axis([1, 0, 0], np.deg2rad(pitch_deg)) @ rotation_about_axis([0, 0, 1], np.deg2rad(yaw_deg))


class Canvas:
    """An RGB image with a depth buffer; points and lines are projected orthographically."""

    def __init__(self, bounds: np.ndarray, rotation: np.ndarray, size: tuple[int, int] = (360, 480)) -> None:
        self.h, self.w = size
        self.rotation = rotation
        corners = bounds @ rotation.T
        self.lo, hi = corners[:, :2].min(axis=0), corners[:, :2].max(axis=0)
        self.scale = 0.92 * min(self.w / max(hi[0] - self.lo[0], 1e-9), self.h / max(hi[1] - self.lo[1], 1e-9))
        self.offset = (np.array([self.w, self.h]) - self.scale * (hi - self.lo)) / 2
        self.image = np.full((self.h, self.w, 3), 255, np.uint8)
        self.depth = np.full((self.h, self.w), np.inf)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        view = points @ self.rotation.T
        px = ((view[:, 0] - self.lo[0]) * self.scale + self.offset[0]).astype(int)
        py = (self.h - 1 - ((view[:, 1] - self.lo[1]) * self.scale + self.offset[1])).astype(int)
        return px, py, -view[:, 2]

    def points(self, points: np.ndarray, colour: np.ndarray, radius: int = 1) -> None:
        px, py, depth = self.project(points)
        for dx in range(-radius + 1, radius):
            for dy in range(-radius + 1, radius):
                self._splat(px + dx, py + dy, depth, np.broadcast_to(colour, (len(px), 3)))

    def _splat(self, px: np.ndarray, py: np.ndarray, depth: np.ndarray, colours: np.ndarray) -> None:
        ok = (px >= 0) & (px < self.w) & (py >= 0) & (py < self.h)
        px, py, depth, colours = px[ok], py[ok], depth[ok], colours[ok]
        order = np.argsort(-depth)
        px, py, depth, colours = px[order], py[order], depth[order], colours[order]
        closer = depth < self.depth[py, px]
        self.depth[py[closer], px[closer]] = depth[closer]
        self.image[py[closer], px[closer]] = colours[closer]

    def lines(self, starts: np.ndarray, ends: np.ndarray, colours: np.ndarray, samples: int = 200) -> None:
        """Lines drawn over the points (no depth test), as dense samples along each segment."""
        t = np.linspace(0, 1, samples)[None, :, None]
        pts = (starts[:, None] * (1 - t) + ends[:, None] * t).reshape(-1, 3)
        px, py, _ = self.project(pts)
        cols = np.repeat(colours, samples, axis=0)
        ok = (px >= 0) & (px < self.w) & (py >= 0) & (py < self.h)
        self.image[py[ok], px[ok]] = cols[ok]


def _bounds(*clouds: np.ndarray) -> np.ndarray:
    pts = np.vstack([c for c in clouds if len(c)])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _thin(points: np.ndarray, limit: int = 20000) -> np.ndarray:
    return points if len(points) <= limit else points[np.linspace(0, len(points) - 1, limit).astype(int)]


def overlay(source: np.ndarray, target: np.ndarray, transform: np.ndarray, truth: np.ndarray | None = None,
            yaw: float = 30.0, pitch: float = -60.0, size: tuple[int, int] = (360, 480)) -> np.ndarray:
    """Target blue, source orange under ``transform``; the pose under ``truth`` in grey when given."""
    moved = apply_transform(_thin(source), transform)
    tgt = _thin(target)
    canvas = Canvas(_bounds(moved, tgt), view_rotation(yaw, pitch), size)
    if truth is not None:
        canvas.points(apply_transform(_thin(source), truth), TRUTH)
    canvas.points(tgt, TARGET)
    canvas.points(moved, SOURCE)
    return canvas.image


def match_colours(inliers: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    """Green true positive, orange false positive, red rejected; without truth: green kept, red rejected."""
    cols = np.where(inliers[:, None], TRUE_POS, REJECTED).astype(np.uint8)
    if truth is not None and len(truth) == len(inliers):
        cols[inliers & ~truth] = FALSE_POS
    return cols


def correspondence_view(source: np.ndarray, target: np.ndarray, corr: np.ndarray, inliers: np.ndarray,
                        truth: np.ndarray | None, max_lines: int = 200, yaw: float = 30.0, pitch: float = -60.0,
                        size: tuple[int, int] = (360, 720)) -> np.ndarray:
    """Source and a sideways-shifted target, with up to ``max_lines`` correspondence lines coloured by outcome
    (kept matches first, then an even sample of the rejected ones, drawn under them)."""
    src = source - source.mean(axis=0)
    tgt = target - target.mean(axis=0)
    shift = np.array([1.2 * (np.ptp(src[:, 0]) + np.ptp(tgt[:, 0])) / 2 + 1e-9, 0, 0])
    rot = view_rotation(yaw, pitch)
    shift = shift @ rot
    tgt = tgt + shift
    canvas = Canvas(_bounds(src, tgt), rot, size)
    canvas.points(_thin(src), SOURCE)
    canvas.points(_thin(tgt), TARGET)
    if len(corr):
        kept = np.flatnonzero(inliers)[:max_lines]
        rest = np.flatnonzero(~inliers)
        rest = rest[np.linspace(0, len(rest) - 1, min(max_lines - len(kept), len(rest))).astype(int)]
        pick = np.r_[rest, kept]
        canvas.lines(src[corr[pick, 0]], tgt[corr[pick, 1]], match_colours(inliers, truth)[pick])
    return canvas.image


def views(source, target, surface, transform, corr, inliers, truth_mask, truth_transform,
          name: str = "views") -> ImageGrid:
    """Before/after overlays of ``source`` on ``surface`` and the matches into ``target``, as one grid."""
    images = [overlay(source, surface, np.eye(4), truth_transform),
              overlay(source, surface, transform, truth_transform),
              correspondence_view(source, target, corr, inliers, truth_mask)]
    captions = ["before" + (" (grey: truth)" if truth_transform is not None else ""), "after",
                "matches: kept true / kept false / rejected"]
    return ImageGrid(name=name, title="Registration views (software-rendered)", images=images, captions=captions,
                     ncols=3)


def residual_histogram(residuals: np.ndarray, eps: float, bins: int = 40, name: str = "residuals") -> Curves:
    """Histogram of match residuals under the estimate (clipped at 4 eps) with the eps line."""
    clipped = np.clip(residuals, 0, 4 * eps)
    counts, edges = np.histogram(clipped, bins=bins, range=(0, 4 * eps))
    centres = (edges[:-1] + edges[1:]) / 2
    top = float(max(counts.max(), 1)) if len(counts) else 1.0
    return Curves(name=name, title="Residual histogram (last bin: >= 4 eps)", x_label="residual |R x + t - y|",
                  y_label="matches", series={"matches": np.vstack([centres, counts]),
                                             f"eps = {eps:g}": np.array([[eps, eps], [0.0, top]])})
