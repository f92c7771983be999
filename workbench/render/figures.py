"""One matplotlib figure builder per result kind. Builders draw; they never compute the science.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so they work on any thread, headless
(Agg) or inside a Qt canvas.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from workbench.core import results as R

_FIGURES: dict[str, Callable[..., Figure]] = {}


def figure_builder(kind: str):
    def deco(fn):
        _FIGURES[kind] = fn
        return fn

    return deco


def build_figure(result: R.Result, **options) -> Figure | None:
    """The figure for ``result``, or None for kinds that are shown as tables only."""
    builder = _FIGURES.get(result.kind)
    return builder(result, **options) if builder else None


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return (n + ncols - 1) // ncols, ncols


@figure_builder("scores")
def scores_figure(result: R.ScoreSet, threshold: float | dict[str, float] | None = None, **_) -> Figure:
    """ROC and PR (ID positive) per OOD set with one curve per detector, and score histograms per detector.

    ``threshold`` draws a line on every histogram, or, as ``{detector: value}``, on those detectors' only.
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    ood_sets = result.ood_sets
    detectors = result.detectors
    ncols = max(len(ood_sets), len(detectors), 1)
    fig = Figure(figsize=(3.2 * ncols, 9.0), layout="constrained")
    axes = fig.subplots(3, ncols, squeeze=False)
    for col, ood in enumerate(ood_sets):
        roc_ax, pr_ax = axes[0][col], axes[1][col]
        for det in detectors:
            id_s, ood_s = result.scores[det][result.id_set], result.scores[det][ood]
            y = np.r_[np.ones(len(id_s)), np.zeros(len(ood_s))]
            s = np.r_[id_s, ood_s]
            fpr, tpr, _ = roc_curve(y, s)
            roc_ax.plot(fpr, tpr, label=det, lw=1.2)
            prec, rec, _ = precision_recall_curve(y, s)
            pr_ax.plot(rec, prec, label=det, lw=1.2)
        group = result.groups.get(ood, "")
        roc_ax.set_title(f"ROC: {ood}" + (f" ({group})" if group else ""), fontsize=9)
        roc_ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        roc_ax.set_xlabel("FPR (OOD accepted as ID)", fontsize=8)
        roc_ax.set_ylabel("TPR (ID kept)", fontsize=8)
        pr_ax.set_title(f"PR (ID positive): {ood}", fontsize=9)
        pr_ax.set_xlabel("recall", fontsize=8)
        pr_ax.set_ylabel("precision", fontsize=8)
    for ax in list(axes[0][len(ood_sets):]) + list(axes[1][len(ood_sets):]):
        ax.axis("off")
    if ood_sets:
        axes[0][0].legend(fontsize=7, loc="lower right")
    for col, det in enumerate(detectors):
        ax = axes[2][col]
        sets = result.scores[det]
        lo = min(float(np.min(v)) for v in sets.values() if len(v))
        hi = max(float(np.max(v)) for v in sets.values() if len(v))
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        for name, values in sets.items():
            ax.hist(values, bins=bins, alpha=0.45 if name != result.id_set else 0.7, density=True,
                    label=name, histtype="stepfilled" if name == result.id_set else "step", lw=1.2)
        thr = threshold.get(det) if isinstance(threshold, dict) else threshold
        if thr is not None:
            ax.axvline(thr, color="k", lw=1)
        ax.set_title(f"scores: {det}", fontsize=9)
    for ax in axes[2][len(detectors):]:
        ax.axis("off")
    if detectors:
        axes[2][0].legend(fontsize=7)
    fig.suptitle(result.title or result.name, fontsize=11)
    return fig


@figure_builder("image-grid")
def image_grid_figure(result: R.ImageGrid, **_) -> Figure:
    n = max(len(result.images), 1)
    rows, cols = _grid(n, result.ncols)
    fig = Figure(figsize=(1.6 * cols, 1.8 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(result.images):
            img = result.images[i]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
            if i < len(result.captions):
                ax.set_title(result.captions[i], fontsize=7)
    fig.suptitle(result.title or result.name, fontsize=10)
    return fig


@figure_builder("heatmap")
def heatmap_figure(result: R.Heatmap, opacity: float = 0.5, cmap: str | None = None, **_) -> Figure:
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax_img, ax_overlay = fig.subplots(1, 2)
    h, w = result.image.shape[:2]
    heat = np.asarray(result.heat, dtype=float)
    if result.signed:
        bound = float(np.max(np.abs(heat))) or 1.0
        vmin, vmax, cmap = -bound, bound, cmap or "RdBu_r"
    else:
        vmin, vmax, cmap = float(np.min(heat)), float(np.max(heat)) or 1.0, cmap or "inferno"
    ax_img.imshow(result.image)
    ax_img.set_title("image", fontsize=9)
    ax_overlay.imshow(result.image)
    im = ax_overlay.imshow(heat, cmap=cmap, vmin=vmin, vmax=vmax, alpha=opacity,
                           extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="bilinear")
    ax_overlay.set_title(result.label or "heatmap", fontsize=9)
    fig.colorbar(im, ax=ax_overlay, shrink=0.8)
    for ax in (ax_img, ax_overlay):
        ax.axis("off")
    fig.suptitle(result.title or result.name, fontsize=10)
    return fig


@figure_builder("token-scores")
def token_scores_figure(result: R.TokenScores, threshold: float | None = None, **_) -> Figure:
    import matplotlib

    thr = result.threshold if threshold is None else threshold
    scores = np.asarray(result.scores, dtype=float)
    bound = float(np.max(np.abs(scores))) if scores.size else 1.0
    cmap = matplotlib.colormaps["RdBu"]
    fig = Figure(figsize=(max(6, 0.7 * len(result.tokens)), 4.2), layout="constrained")
    ax_text, ax_bar = fig.subplots(2, 1, height_ratios=[1, 3])
    ax_text.axis("off")
    x = 0.0
    for tok, s, flag in zip(result.tokens, scores, result.flags):
        colour = cmap(0.5 + 0.5 * s / (bound or 1.0))
        txt = ax_text.text(x, 0.5, tok, fontsize=12, va="center", transform=ax_text.transAxes,
                           bbox={"facecolor": colour, "edgecolor": "k" if flag else "none", "pad": 2})
        x += (len(tok) + 1.5) / max(sum(len(t) + 1.5 for t in result.tokens), 1)
        if flag:
            txt.set_fontweight("bold")
    colours = ["#c0392b" if f else "#7f8c8d" for f in result.flags]
    ax_bar.bar(range(len(scores)), scores, color=colours)
    ax_bar.axhline(thr, color="k", ls="--", lw=1, label=f"threshold {thr:g}")
    ax_bar.axhline(0, color="0.6", lw=0.6)
    ax_bar.set_xticks(range(len(result.tokens)), result.tokens, rotation=45, ha="right", fontsize=8)
    ax_bar.legend(fontsize=8)
    summary = ", ".join(f"{k}={v:.3f}" for k, v in result.summary.items())
    title = (result.title or result.name) + (f"  ({summary})" if summary else "")
    fig.suptitle(textwrap.fill(title, width=int(fig.get_figwidth() * 13)), fontsize=10)
    return fig


@figure_builder("regions")
def regions_figure(result: R.Regions, **_) -> Figure:
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.imshow(result.image)
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(result.boxes, dtype=float)):
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=f"C{i % 10}", lw=1.5))
        label = result.labels[i] if i < len(result.labels) else ""
        score = f" {result.scores[i]:.2f}" if i < len(result.scores) else ""
        ax.text(x0, y0, label + score, color="w", fontsize=8, va="bottom",
                bbox={"facecolor": f"C{i % 10}", "pad": 1, "edgecolor": "none"})
    ax.axis("off")
    fig.suptitle(result.title or result.name, fontsize=10)
    return fig


@figure_builder("curves")
def curves_figure(result: R.Curves, **_) -> Figure:
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for name, xy in result.series.items():
        xy = np.asarray(xy)
        ax.plot(xy[0], xy[1], label=name, lw=1.2)
    ax.set_xlabel(result.x_label)
    ax.set_ylabel(result.y_label)
    if result.series:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(result.title or result.name, fontsize=10)
    return fig


def apply_transform(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    return points @ transform[:3, :3].T + transform[:3, 3]


@figure_builder("registration")
def registration_figure(result: R.Registration, elev: float = 20.0, azim: float = -60.0,
                        max_lines: int = 200, **_) -> Figure:
    """Before/after clouds (3-D axes, rotatable in the GUI). Kept matches are drawn green (true) or red (false),
    a sample of rejected ones grey."""
    fig = Figure(figsize=(10, 4.8), layout="constrained")
    moved = apply_transform(result.source, result.transform) if len(result.source) else result.source
    for i, (title, src) in enumerate((("before", result.source), ("after", moved))):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        ax.view_init(elev=elev, azim=azim)
        if len(src):
            ax.scatter(*src.T, s=1, c="#e67e22", alpha=0.5, label="source", depthshade=False)
        if len(result.target):
            ax.scatter(*result.target.T, s=1, c="#2980b9", alpha=0.5, label="target", depthshade=False)
        corr = np.asarray(result.correspondences)
        if i == 0 and len(corr):
            kept = np.asarray(result.inliers, bool) if len(result.inliers) else np.zeros(len(corr), bool)
            true = np.asarray(result.truth, bool) if len(result.truth) else kept
            rejected = np.flatnonzero(~kept)
            shown = np.r_[np.flatnonzero(kept)[:max_lines],
                          rejected[np.linspace(0, len(rejected) - 1, min(max_lines // 4, len(rejected))).astype(int)]
                          if len(rejected) else []].astype(int)
            for k in shown:
                a, b = src[corr[k, 0]], result.target[corr[k, 1]]
                colour = ("#27ae60" if true[k] else "#c0392b") if kept[k] else "0.6"
                ax.plot(*np.c_[a, b], color=colour, lw=0.8 if kept[k] else 0.4, alpha=0.9 if kept[k] else 0.4)
        ax.set_title(f"{title}" + (f" ({result.status})" if i else ""), fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(result.title or result.name, fontsize=10)
    return fig
