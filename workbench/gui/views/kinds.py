"""One Qt view per result kind, each the interactive face of the headless figure for that kind."""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QPushButton, QWidget

from workbench.core import results as R
from workbench.gui.qt_images import thumbnail
from workbench.gui.views.base import FigureView, ResultView, add_labelled, add_slider
from workbench.gui.views.item_preview import ItemBrowser, Picture
from workbench.gui.views.tables import RowsModel, make_table
from workbench.render.export import table_csv
from workbench.render.figures import caption_text

FLAGGED_WORD = "<span style='background:#f5b7b1; color:#922b21'><b>{}</b></span>"


def _slider_value(slider, lo: float, hi: float) -> float:
    return lo + (hi - lo) * slider.value() / max(slider.maximum(), 1)


def _set_slider(slider, lo: float, hi: float, value: float) -> None:
    slider.blockSignals(True)
    slider.setValue(int(round(slider.maximum() * (value - lo) / ((hi - lo) or 1.0))))
    slider.blockSignals(False)


class MetricsView(ResultView):
    """A sortable table with "Copy as CSV" and "Save CSV…"; the notes line sits under it. A table of items
    that carries their pictures shows the clicked row's picture beside it."""

    def __init__(self, result: R.MetricsTable, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        copy = QPushButton("Copy as CSV")
        copy.clicked.connect(self.copy_csv)
        save = QPushButton("Save CSV…")
        save.clicked.connect(self._save_csv)
        self.controls.addWidget(copy)
        self.controls.addWidget(save)
        self.finish_controls()
        self.model = RowsModel(result.columns, result.rows)
        self.browser: ItemBrowser | None = None
        if result.has_pictures:
            self.browser = ItemBrowser(self.model, self.item_picture)
            self.table = self.browser.table
            self.body.addWidget(self.browser, 1)
        else:
            self.table = make_table(self.model)
            self.body.addWidget(self.table, 1)
        self.notes = QLabel(result.notes)
        self.notes.setWordWrap(True)
        self.body.addWidget(self.notes)

    def refresh(self) -> None:
        self.model = RowsModel(self.result.columns, self.result.rows)
        if self.browser is not None:
            self.browser.set_model(self.model)
        else:
            self.table.setModel(self.model)
        self.notes.setText(self.result.notes)

    def item_picture(self, row: int) -> tuple[Picture, str]:
        """Row ``row``'s picture and a caption made of its cells."""
        cells = self.result.rows[row] if row < len(self.result.rows) else []
        return self.result.picture(row), ", ".join(f"{c}: {v}" for c, v in zip(self.result.columns, cells)
                                                   if v not in (None, ""))

    def csv_text(self) -> str:
        """CSV of the rows in the order shown (the headless exporter's format)."""
        shown = dataclasses.replace(self.result, rows=self.model.visible_rows())
        return table_csv(shown)

    def copy_csv(self) -> None:
        QGuiApplication.clipboard().setText(self.csv_text())

    def _save_csv(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save CSV", f"{self.result.name}.csv", "CSV (*.csv)")
        if name:
            with open(name, "w", encoding="utf-8", newline="") as fh:
                fh.write(self.csv_text())


class CurvesView(FigureView):
    """Loss/accuracy curves; a task re-yielding the same result name redraws it live."""

    def __init__(self, result: R.Curves, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.finish_controls()
        self.add_figure_area()
        self.refresh()


class ScoresView(FigureView):
    """ROC/PR/histograms with a threshold slider per detector and a sortable per-item table; clicking an item
    shows its picture when the score set carries thumbnails or image paths."""

    def __init__(self, result: R.ScoreSet, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.detector = add_labelled(self, "detector", QComboBox())
        self.detector.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.detector.setMinimumContentsLength(12)
        self.slider, self.value_label = add_slider(self, "threshold")
        self.finish_controls()
        self.readout = self.add_readout()
        self.items = RowsModel([], [])
        self.item_keys: list[tuple[str, int]] = []
        self.browser = ItemBrowser(self.items, self.item_picture)
        self.table = self.browser.table
        self.add_figure_area({"items": self.browser})
        self.detector.currentIndexChanged.connect(self._detector_changed)
        self.slider.valueChanged.connect(self._threshold_moved)
        self.refresh_all()
        self.draw_now()

    def refresh_all(self) -> None:
        current = self.detector.currentText()
        self.detector.blockSignals(True)
        self.detector.clear()
        self.detector.addItems(self.result.detectors)
        if current in self.result.detectors:
            self.detector.setCurrentText(current)
        self.detector.blockSignals(False)
        self._fill_items()
        self._detector_changed()

    def update_result(self, result: R.Result) -> None:
        self.result = result
        self.refresh_all()
        self.draw_now()

    def _range(self) -> tuple[float, float]:
        sets = self.result.scores.get(self.detector.currentText(), {})
        values = np.concatenate([np.asarray(v, float) for v in sets.values()]) if sets else np.zeros(1)
        return float(values.min()), float(values.max())

    def _detector_changed(self) -> None:
        lo, hi = self._range()
        id_scores = np.asarray(self.result.scores.get(self.detector.currentText(), {}).get(self.result.id_set, []))
        start = float(np.quantile(id_scores, 0.05)) if id_scores.size else (lo + hi) / 2
        _set_slider(self.slider, lo, hi, start)
        self._threshold_moved()

    def threshold(self) -> float:
        lo, hi = self._range()
        return _slider_value(self.slider, lo, hi)

    def _threshold_moved(self) -> None:
        t = self.threshold()
        det = self.detector.currentText()
        self.value_label.setText(f"{t:.4g}")
        sets = self.result.scores.get(det, {})
        parts = []
        for name, values in sets.items():
            values = np.asarray(values)
            if name == self.result.id_set:
                parts.insert(0, f"ID kept {np.mean(values >= t):.1%}")
            else:
                parts.append(f"{name} rejected {np.mean(values < t):.1%}")
        self.readout.setText(" | ".join(parts))
        flags = [bool(s < t) for name in sets for s in np.asarray(sets[name])]
        if det:
            self.items.set_column("flagged OOD", flags)
        self.schedule_refresh()

    def _fill_items(self) -> None:
        dets = self.result.detectors
        rows, self.item_keys = [], []
        first = self.result.scores[dets[0]] if dets else {}
        for set_name, values in first.items():
            group = "ID" if set_name == self.result.id_set else self.result.groups.get(set_name, "OOD")
            for i in range(len(values)):
                rows.append([set_name, group, i, *(float(self.result.scores[d][set_name][i]) for d in dets)])
                self.item_keys.append((set_name, i))
        self.items = RowsModel(["set", "group", "index", *dets], rows)
        self.browser.set_model(self.items)

    def item_picture(self, row: int) -> tuple[Picture, str]:
        """The picture of the item on ``row`` (a thumbnail the score set carries, else its image file)."""
        set_name, i = self.item_keys[row]
        thumbs, paths = self.result.thumbnails.get(set_name), self.result.item_paths.get(set_name, [])
        picture: Picture = thumbs[i] if thumbs is not None and i < len(thumbs) else (
            paths[i] if i < len(paths) else None)
        scores = ", ".join(f"{d} {float(self.result.scores[d][set_name][i]):.4g}" for d in self.result.detectors)
        return picture, f"{set_name} #{i}" + (f" ({paths[i]})" if i < len(paths) else "") + f": {scores}"

    def figure_options(self) -> dict[str, Any]:
        return {"threshold": {self.detector.currentText(): self.threshold()}}


class HeatmapView(FigureView):
    """Image + overlay with the heatmap kind's display options: opacity, colormap, signed/magnitude scale
    (the same options the report's figure takes; the result itself is never changed). A map that explains a
    caption shows it above the figure with the flagged words highlighted."""

    COLORMAPS = ("auto", "inferno", "viridis", "magma", "jet", "gray", "RdBu_r", "coolwarm", "PiYG")
    SCALES = ("auto", "signed", "magnitude")

    def __init__(self, result: R.Result, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.opacity, self.opacity_label = add_slider(self, "opacity", steps=100)
        self.opacity.setValue(50)
        self.cmap = add_labelled(self, "colormap", QComboBox())
        self.cmap.addItems(self.COLORMAPS)
        self.scale = add_labelled(self, "scale", QComboBox())
        self.scale.addItems(self.SCALES)
        self.scale.setToolTip("auto: signed maps diverge around zero; signed: force a diverging scale; "
                              "magnitude: show |map|")
        self.finish_controls()
        self.caption = self.add_readout()
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.add_figure_area()
        self.opacity.valueChanged.connect(self.schedule_refresh)
        self.cmap.currentIndexChanged.connect(self.schedule_refresh)
        self.scale.currentIndexChanged.connect(self.schedule_refresh)
        self.draw_now()

    def refresh(self) -> None:
        self.opacity_label.setText(f"{self.opacity.value() / 100:.2f}")
        words = getattr(self.result, "caption_words", [])
        self.caption.setVisible(bool(words))
        if words:
            escaped = dataclasses.replace(self.result, caption_words=[html.escape(w) for w in words])
            self.caption.setText("caption: " + caption_text(escaped, FLAGGED_WORD))
        super().refresh()

    def figure_options(self) -> dict[str, Any]:
        cmap = self.cmap.currentText()
        return {"opacity": self.opacity.value() / 100, "colormap": "" if cmap == "auto" else cmap,
                "scale": self.scale.currentText()}


class HeatmapGridView(HeatmapView):
    """Several maps (per word, per layer) with the same display options as a single heatmap."""


class ImagePairsView(FigureView):
    """Pairs side by side, or blended with a slider from the left image (0) to the right one (1)."""

    def __init__(self, result: R.ImagePairs, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.blend = QCheckBox("blend")
        self.controls.addWidget(self.blend)
        self.mix, self.mix_label = add_slider(self, f"{result.left_label} -> {result.right_label}", steps=100)
        self.mix.setValue(50)
        self.finish_controls()
        self.add_figure_area()
        self.blend.toggled.connect(self.schedule_refresh)
        self.mix.valueChanged.connect(self.schedule_refresh)
        self.draw_now()

    def refresh(self) -> None:
        self.mix_label.setText(f"{self.mix.value() / 100:.2f}")
        self.mix.setEnabled(self.blend.isChecked())
        super().refresh()

    def figure_options(self) -> dict[str, Any]:
        return {"mix": self.mix.value() / 100} if self.blend.isChecked() else {}


class TokenScoresView(FigureView):
    """Per-word colours and bars with a movable threshold line; the readout lists words below it."""

    def __init__(self, result: R.TokenScores, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.slider, self.value_label = add_slider(self, "threshold")
        self.finish_controls()
        self.readout = self.add_readout()
        self.add_figure_area()
        self.slider.valueChanged.connect(self._moved)
        self._reset_slider()
        self.draw_now()

    def _range(self) -> tuple[float, float]:
        scores = np.asarray(self.result.scores, float)
        values = np.r_[scores, self.result.threshold]
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * ((hi - lo) or 1.0)
        return lo - pad, hi + pad

    def _reset_slider(self) -> None:
        _set_slider(self.slider, *self._range(), self.result.threshold)
        self._threshold = float(self.result.threshold)
        self._show_threshold()

    def update_result(self, result: R.Result) -> None:
        self.result = result
        self._reset_slider()

    def threshold(self) -> float:
        return self._threshold

    def _moved(self) -> None:
        self._threshold = _slider_value(self.slider, *self._range())
        self._show_threshold()

    def _show_threshold(self) -> None:
        t = self._threshold
        self.value_label.setText(f"{t:.4g}")
        below = [tok for tok, s in zip(self.result.tokens, np.asarray(self.result.scores)) if s < t]
        self.readout.setText(f"{len(below)} of {len(self.result.tokens)} words below: {' '.join(below)}")
        self.schedule_refresh()

    def figure_options(self) -> dict[str, Any]:
        return {"threshold": self.threshold()}


class RegionsView(FigureView):
    """Boxes with labels and scores; a minimum-score slider and a sortable box table."""

    def __init__(self, result: R.Regions, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.slider, self.value_label = add_slider(self, "minimum score")
        self.finish_controls()
        self.model = RowsModel([], [])
        self.table = make_table(self.model)
        self.add_figure_area({"boxes": self.table})
        self.slider.valueChanged.connect(self.schedule_refresh)
        self.update_result(result)

    def _range(self) -> tuple[float, float]:
        scores = np.asarray(self.result.scores, float)
        return (float(scores.min()), float(scores.max())) if scores.size else (0.0, 1.0)

    def update_result(self, result: R.Result) -> None:
        self.result = result
        _set_slider(self.slider, *self._range(), self._range()[0])
        rows = [[result.labels[i] if i < len(result.labels) else "",
                 float(result.scores[i]) if i < len(result.scores) else None, *map(float, box)]
                for i, box in enumerate(np.asarray(result.boxes))]
        self.model = RowsModel(["label", "score", "x0", "y0", "x1", "y1"], rows)
        self.table.setModel(self.model)
        self.refresh()

    def _shown(self) -> R.Regions:
        t = _slider_value(self.slider, *self._range())
        self.value_label.setText(f"{t:.3g}")
        scores = np.asarray(self.result.scores, float)
        if not scores.size:
            return self.result
        keep = np.flatnonzero(scores >= t - 1e-12)
        return dataclasses.replace(self.result, boxes=np.asarray(self.result.boxes)[keep], scores=scores[keep],
                                   labels=[self.result.labels[i] for i in keep if i < len(self.result.labels)])

    def refresh(self) -> None:
        original, self.result = self.result, self._shown()
        try:
            super().refresh()
        finally:
            self.result = original

    def png_bytes(self) -> bytes:
        original, self.result = self.result, self._shown()
        try:
            return super().png_bytes()
        finally:
            self.result = original


class ImageGridView(FigureView):
    """The grid figure plus a sortable table of the images (thumbnails and captions); clicking a row shows the
    image large beside the table."""

    def __init__(self, result: R.ImageGrid, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.finish_controls()
        self.model = RowsModel([], [])
        self.browser = ItemBrowser(self.model, self.item_picture, icon_size=48)
        self.table = self.browser.table
        self.add_figure_area({"items": self.browser})
        self.update_result(result)

    def item_picture(self, row: int) -> tuple[Picture, str]:
        captions = self.result.captions
        return self.result.images[row], f"#{row}: {captions[row] if row < len(captions) else ''}"

    def update_result(self, result: R.Result) -> None:
        self.result = result
        rows = [[i, result.captions[i] if i < len(result.captions) else "", "x".join(map(str, img.shape))]
                for i, img in enumerate(result.images)]
        self.model = RowsModel(["#", "caption", "shape"], rows, [thumbnail(img) for img in result.images])
        self.browser.set_model(self.model)
        self.refresh()


class RegistrationView(FigureView):
    """Before/after clouds in 3-D axes: drag to rotate (software rendering); both panels turn together."""

    def __init__(self, result: R.Registration, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.view_angles = {"elev": 20.0, "azim": -60.0}
        self.finish_controls()
        self.summary = self.add_readout()
        self.add_figure_area()
        self.update_result(result)

    def update_result(self, result: R.Result) -> None:
        self.result = result
        inl = np.asarray(result.inliers, bool)
        truth = np.asarray(result.truth, bool)
        text = f"status: {result.status} | correspondences: {len(result.correspondences)} | inliers: {inl.sum()}"
        if truth.size == inl.size and inl.size:
            text += f" (true inliers among them: {(inl & truth).sum()})"
        self.summary.setText(text)
        self.refresh()

    def figure_options(self) -> dict[str, Any]:
        return dict(self.view_angles)

    def after_draw(self) -> None:
        self.canvas.mpl_connect("motion_notify_event", self._follow)

    def _follow(self, event) -> None:
        """After matplotlib rotated the axes under the mouse, turn the other panel the same way."""
        ax = event.inaxes
        if ax is None or getattr(ax, "name", "") != "3d":
            return
        angles = {"elev": float(ax.elev), "azim": float(ax.azim)}
        if angles == self.view_angles:
            return
        self.view_angles = angles
        for other in self.canvas.figure.axes:
            if other is not ax and getattr(other, "name", "") == "3d":
                other.view_init(**angles)
        self.canvas.draw_idle()


class GenericFigureView(FigureView):
    """Any other kind that has a figure builder (a plugin's own result kind)."""

    def __init__(self, result: R.Result, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.finish_controls()
        self.add_figure_area()
        self.refresh()
