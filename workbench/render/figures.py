"""The figure builders of the base result kinds. Builders draw; they never compute the science.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so they work on any thread, headless (Agg) or
inside a Qt canvas. :func:`build_figure` finds a kind's builder through the registry (the host registers these
through the same hook a plugin registers its own kinds with), so the report and the GUI draw the same picture.
Display options (opacity, colormap, signed/unsigned, thresholds) are keyword arguments of the builders, declared
per kind as a pydantic model, never task parameters.
"""

from __future__ import annotations

import textwrap
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field

from workbench.core import results as R


class HeatmapOptions(BaseModel):
    """How a heatmap is shown: the same options in the report (defaults) and in the GUI's controls."""

    model_config = ConfigDict(extra="ignore")

    opacity: float = Field(0.5, ge=0, le=1, description="opacity of the map over the image")
    colormap: str = Field("", description="matplotlib colormap; empty: RdBu_r for signed maps, inferno otherwise")
    scale: Literal["auto", "signed", "magnitude"] = Field(
        "auto", description="auto: signed maps diverge around zero; magnitude: show |map|")


def build_figure(result: R.Result, **options) -> Figure | None:
    """The figure for ``result`` from its kind's registered builder, or None for kinds shown as tables only."""
    from workbench.core.plugins import get_host
    from workbench.core.specs import resolve_entry

    spec = get_host().registry.kind(result.kind)
    if spec is not None and spec.figure:
        return resolve_entry(spec.figure)(result, **options)
    if isinstance(result, R.GenericResult):
        return generic_figure(result)
    return None


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return (n + ncols - 1) // ncols, ncols


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


def _heat_scale(heat: np.ndarray, signed: bool, scale: str, colormap: str) -> tuple[np.ndarray, float, float, str]:
    """Map values, colour limits and colormap for a heatmap under the display options."""
    heat = np.asarray(heat, dtype=float)
    if scale == "magnitude":
        heat = np.abs(heat)
    if signed and scale != "magnitude" or scale == "signed":
        bound = float(np.max(np.abs(heat))) or 1.0
        return heat, -bound, bound, colormap or "RdBu_r"
    lo, hi = float(np.min(heat)), float(np.max(heat))
    return heat, lo, hi if hi > lo else lo + 1.0, colormap or "inferno"


def _overlay(ax, image: np.ndarray, heat: np.ndarray, signed: bool, opacity: float, colormap: str, scale: str):
    h, w = image.shape[:2]
    heat, vmin, vmax, cmap = _heat_scale(heat, signed, scale, colormap)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    im = ax.imshow(heat, cmap=cmap, vmin=vmin, vmax=vmax, alpha=opacity, extent=(-0.5, w - 0.5, h - 0.5, -0.5),
                   interpolation="bilinear")
    ax.axis("off")
    return im


def heatmap_figure(result: R.Heatmap, opacity: float = 0.5, colormap: str = "", scale: str = "auto",
                   **_) -> Figure:
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax_img, ax_overlay = fig.subplots(1, 2)
    ax_img.imshow(result.image)
    ax_img.set_title("image", fontsize=9)
    ax_img.axis("off")
    im = _overlay(ax_overlay, result.image, result.heat, result.signed, opacity, colormap, scale)
    ax_overlay.set_title(result.label or "heatmap", fontsize=9)
    fig.colorbar(im, ax=ax_overlay, shrink=0.8)
    fig.suptitle(result.title or result.name, fontsize=10)
    if result.caption_words:
        fig.supxlabel(textwrap.fill("caption: " + caption_text(result, "[{}]"), width=110), fontsize=9)
    return fig


def caption_text(result: R.Heatmap, flagged: str = "{}", plain: str = "{}") -> str:
    """The caption a heatmap explains, each flagged word formatted with ``flagged``, the others with ``plain``."""
    flags = list(result.caption_flags) + [False] * (len(result.caption_words) - len(result.caption_flags))
    return " ".join((flagged if f else plain).format(w) for w, f in zip(result.caption_words, flags))


def heatmap_grid_figure(result: R.HeatmapGrid, opacity: float = 0.5, colormap: str = "", scale: str = "auto",
                        **_) -> Figure:
    """One overlay per map, each scaled on its own (a shared scale would hide weak maps)."""
    n = max(len(result.heats), 1)
    rows, cols = _grid(n, result.ncols)
    fig = Figure(figsize=(2.4 * cols, 2.5 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(result.heats):
            _overlay(ax, result.image_for(i), result.heats[i], result.signed, opacity, colormap, scale)
            if i < len(result.labels):
                ax.set_title(result.labels[i], fontsize=8)
    title = (result.title or result.name) + (f"\n{result.caption}" if result.caption else "")
    fig.suptitle(title, fontsize=10)
    return fig


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


def curves_figure(result: R.Curves, **_) -> Figure:
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for name, xy in result.series.items():
        xy = np.asarray(xy)
        ax.plot(xy[0], xy[1], label=name, lw=1.2, marker="o" if xy.shape[-1] == 1 else None)  # one point shows
    ax.set_xlabel(result.x_label)
    ax.set_ylabel(result.y_label)
    if result.series:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(result.title or result.name, fontsize=10)
    return fig


def apply_transform(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    return points @ transform[:3, :3].T + transform[:3, 3]


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
        truth = np.asarray(result.truth_transform)
        if i == 1 and truth.shape == (4, 4) and len(result.source):
            ax.scatter(*apply_transform(result.source, truth).T, s=1, c="0.55", alpha=0.35,
                       label="source at the true pose", depthshade=False)
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


def embedding_scatter_figure(result: R.EmbeddingScatter, point_size: float = 6.0, **_) -> Figure:
    import matplotlib

    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["tab10"]
    points, labels = np.asarray(result.points, float), np.asarray(result.labels, int)
    anchors, anchor_labels = np.asarray(result.anchors, float), np.asarray(result.anchor_labels, int)
    for k, name in enumerate(result.classes or [str(c) for c in np.unique(labels)]):
        sel = labels == k
        ax.scatter(points[sel, 0], points[sel, 1], s=point_size, alpha=0.5, color=cmap(k % 10), label=name)
        own = anchor_labels == k
        if own.any():
            ax.scatter(anchors[own, 0], anchors[own, 1], s=90, marker="*", edgecolor="k", linewidth=0.7,
                       color=cmap(k % 10))
    if len(anchors):
        ax.scatter([], [], s=90, marker="*", color="w", edgecolor="k", label=result.anchor_name)
    ax.set_xlabel(result.x_label)
    ax.set_ylabel(result.y_label)
    ax.legend(fontsize=7, markerscale=2)
    ax.set_title(result.title or result.name, fontsize=9)
    return fig


def image_pairs_figure(result: R.ImagePairs, mix: float | None = None, **_) -> Figure:
    """Each pair side by side; with ``mix`` in [0, 1] (the GUI slider) one blended picture per pair instead."""
    n = max(len(result.left), 1)
    cols = 1 if mix is not None else 2
    fig = Figure(figsize=(2.4 * cols * min(n, 4), 2.6 * ((n + 3) // 4) + 0.4), layout="constrained")
    axes = fig.subplots((n + 3) // 4, cols * min(n, 4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(len(result.left)):
        left, right = np.asarray(result.left[i]), np.asarray(result.right[i])
        caption = result.captions[i] if i < len(result.captions) else ""
        r, c = divmod(i, 4)
        if mix is None:
            for j, (img, label) in enumerate(((left, result.left_label), (right, result.right_label))):
                ax = axes[r][2 * c + j]
                ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
                ax.set_title(f"{label}\n{caption}" if caption else label, fontsize=7)
        else:
            blended = ((1 - mix) * left.astype(float) + mix * right.astype(float)).astype(left.dtype)
            ax = axes[r][c]
            ax.imshow(blended, cmap="gray" if left.ndim == 2 else None, interpolation="nearest")
            ax.set_title(f"{result.left_label} {1 - mix:.0%} | {result.right_label} {mix:.0%}\n{caption}",
                         fontsize=7)
    fig.suptitle(result.title or result.name, fontsize=10)
    return fig


def generic_figure(result: R.GenericResult, **_) -> Figure:
    """A listing of the fields of a result whose kind no loaded plugin registers."""
    lines = [f"kind {result.original_kind!r} is not registered by any loaded plugin; its saved fields:"]
    for key, value in result.values.items():
        shown = f"array {value.shape} {value.dtype}" if isinstance(value, np.ndarray) else repr(value)
        lines.append(textwrap.shorten(f"{key}: {shown}", width=110))
    fig = Figure(figsize=(8, 0.3 * len(lines) + 0.6), layout="constrained")
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8, transform=ax.transAxes)
    fig.suptitle(result.title or result.name, fontsize=10)
    return fig
