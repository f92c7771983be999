"""Base result views. A figure view draws with the same builder as the headless report
(``workbench.render.figures.build_figure``) inside a Qt canvas, so GUI and report pictures match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shiboken6
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from PySide6.QtCore import QBuffer, QIODevice, Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.results import Result
from workbench.gui.flow_layout import FlowLayout, labelled
from workbench.render.export import figure_png
from workbench.render.figures import build_figure


class ResultView(QWidget):
    """A result's tab: a control bar (with "Save as PNG…") above the content; ``update_result`` redraws.

    The control bar is a flow that wraps onto more rows when the tab is narrow, and readouts (``add_readout``)
    are word-wrapped lines under it, so no view is ever wider than a small screen allows.
    """

    def __init__(self, result: Result, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.controls = FlowLayout()
        layout.addLayout(self.controls)
        self.readouts = QVBoxLayout()
        self.readouts.setSpacing(2)
        layout.addLayout(self.readouts)
        self.body = QVBoxLayout()
        layout.addLayout(self.body, 1)
        self.save_button = QPushButton("Save as PNG…")
        self.save_button.clicked.connect(self._save_dialog)
        self.step_bar: QWidget | None = None

    def set_steps(self, index: int, total: int, go) -> None:
        """Show "◀ index/total ▶" in the control bar; the arrows call ``go(index ± 1)`` (a run's several results
        of one kind - scenes, items - stepped through in place)."""
        if self.step_bar is None:
            self.step_bar = QWidget()
            row = QHBoxLayout(self.step_bar)
            row.setContentsMargins(0, 0, 0, 0)
            self.step_prev, self.step_label, self.step_next = QPushButton("◀"), QLabel(), QPushButton("▶")
            for button in (self.step_prev, self.step_next):
                button.setFixedWidth(32)
            row.addWidget(self.step_prev)
            row.addWidget(self.step_label)
            row.addWidget(self.step_next)
            self.controls.insertWidget(0, self.step_bar)
            self.step_prev.clicked.connect(lambda: self._step[1](self._step[0] - 1))
            self.step_next.clicked.connect(lambda: self._step[1](self._step[0] + 1))
        self._step = (index, go)
        self.step_prev.setEnabled(index > 0)
        self.step_next.setEnabled(index < total - 1)
        self.step_label.setText(f"{index + 1} / {total}")
        self.step_bar.setToolTip(f"{total} results of kind {self.result.kind} in this run")

    def finish_controls(self) -> None:
        """Call after subclasses added their controls: Save comes last."""
        self.controls.addWidget(self.save_button)

    def add_readout(self) -> QLabel:
        """A word-wrapped line under the controls for text that follows them (it never widens the view)."""
        label = QLabel()
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setMinimumWidth(120)
        self.readouts.addWidget(label)
        return label

    def update_result(self, result: Result) -> None:
        self.result = result
        self.refresh()

    def refresh(self) -> None:
        """Redraw from ``self.result`` and the controls."""

    def png_bytes(self) -> bytes:
        buf = QBuffer()
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        self.grab().save(buf, "PNG")
        return bytes(buf.data())

    def save_png(self, path: Path) -> Path:
        path = Path(path)
        path.write_bytes(self.png_bytes())
        return path

    def _save_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save as PNG", f"{self.result.name}.png", "PNG image (*.png)")
        if name:
            self.save_png(Path(name))


def add_slider(view: ResultView, label: str, steps: int = 1000) -> tuple[QSlider, QLabel]:
    """A labelled horizontal slider in the view's control bar; the label shows the current value."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, steps)
    slider.setMinimumWidth(160)
    value = QLabel()
    value.setMinimumWidth(60)
    view.controls.addWidget(labelled(label, slider, value))
    return slider, value


def add_labelled(view: ResultView, label: str, widget: QWidget) -> QWidget:
    """``widget`` with its caption in the control bar (kept together when the bar wraps)."""
    view.controls.addWidget(labelled(label, widget))
    return widget


class ViewCanvas(FigureCanvasQTAgg):
    """A view's figure canvas whose idle redraw is a timer the canvas owns and that draws only while the canvas is
    on screen. matplotlib's own idle redraw is a free-standing timer: it still ran after a view was closed, and when
    Python collected the view during that draw, Qt deleted the canvas under it (the "Internal C++ object already
    deleted" tracebacks)."""

    _idle: QTimer | None = None

    def draw_idle(self) -> None:
        if self._idle is None:
            self._idle = QTimer(self)
            self._idle.setSingleShot(True)
            self._idle.setInterval(0)
            self._idle.timeout.connect(self._draw_if_shown)
        self._idle.start()

    def _draw_if_shown(self) -> None:
        if self.isVisible() and self.width() > 0 and self.height() > 0:
            self._draw_while_alive()

    def _draw_while_alive(self) -> None:
        """Draw; a view Python collects during the draw (one nothing refers to any more) takes its canvas with it,
        and then there is nothing left to draw on: that ends the draw quietly, any other error is raised."""
        try:
            self.draw()
        except RuntimeError:
            if shiboken6.isValid(self):
                raise

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.draw_idle()  # a redraw skipped while hidden (a background tab) happens when it shows

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._idle is not None and self._idle.isActive():  # paint the pending redraw, not the old picture
            self._idle.stop()
            self._draw_while_alive()
        super().paintEvent(event)


def _limits(figure) -> list[tuple]:
    """Each 2-D axes' view limits (3-D axes turn with the mouse instead; they are left out)."""
    return [(ax.get_xlim(), ax.get_ylim()) for ax in figure.axes if getattr(ax, "name", "") != "3d"]


class FigureView(ResultView):
    """Shows ``build_figure(result, **figure_options())`` in a scrollable canvas between 0.7x and 1.5x the
    figure's own size (so it keeps roughly the headless picture's proportions); redraws are debounced.

    matplotlib's navigation toolbar above the canvas zooms and pans every figure (Home undoes it); a redraw
    after a control changed keeps the zoomed view when the figure has the same axes.
    """

    min_scale = 0.7
    max_scale = 1.5

    def __init__(self, result: Result, parent: QWidget | None = None) -> None:
        super().__init__(result, parent)
        self.tabs: QTabWidget | None = None
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.canvas: ViewCanvas | None = None
        self.toolbar: NavigationToolbar2QT | None = None
        self._home: list[tuple] = []
        self.figure_box = QWidget()
        self._figure_layout = QVBoxLayout(self.figure_box)
        self._figure_layout.setContentsMargins(0, 0, 0, 0)
        self._figure_layout.setSpacing(0)
        self._figure_layout.addWidget(self.scroll, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)
        self._timer.timeout.connect(self.refresh)

    def add_figure_area(self, extra_tabs: dict[str, QWidget] | None = None) -> None:
        """Put the canvas in the body, or in a "figure" tab beside ``extra_tabs``."""
        if extra_tabs:
            self.tabs = QTabWidget()
            self.tabs.addTab(self.figure_box, "figure")
            for title, widget in extra_tabs.items():
                self.tabs.addTab(widget, title)
            self.body.addWidget(self.tabs)
        else:
            self.body.addWidget(self.figure_box)

    def figure_options(self) -> dict[str, Any]:
        return {}

    def schedule_refresh(self) -> None:
        self._timer.start()

    def draw_now(self) -> None:
        """Draw at once (first show, screenshots), dropping a pending debounced redraw."""
        self._timer.stop()
        self.refresh()

    def refresh(self) -> None:
        fig = build_figure(self.result, **self.figure_options())
        if fig is None:
            return
        zoomed = self.canvas is not None and _limits(self.canvas.figure) != self._home
        kept = _limits(self.canvas.figure) if zoomed else []
        canvas = ViewCanvas(fig)
        w, h = fig.get_size_inches() * fig.dpi
        canvas.setMinimumSize(int(w * self.min_scale), int(h * self.min_scale))
        canvas.setMaximumSize(int(w * self.max_scale), int(h * self.max_scale))
        self.canvas = canvas
        self._home = _limits(fig)
        toolbar = NavigationToolbar2QT(canvas, self.figure_box, coordinates=False)
        toolbar.setIconSize(toolbar.iconSize() * 0.75)
        if kept and len(kept) == len(self._home):
            toolbar.push_current()  # Home goes back to the whole figure
            for ax, (xlim, ylim) in zip((a for a in fig.axes if getattr(a, "name", "") != "3d"), kept):
                ax.set_xlim(xlim)
                ax.set_ylim(ylim)
            toolbar.push_current()
        if self.toolbar is not None:
            self._figure_layout.replaceWidget(self.toolbar, toolbar)
            self.toolbar.deleteLater()
        else:
            self._figure_layout.insertWidget(0, toolbar)
        self.toolbar = toolbar
        self.scroll.setWidget(canvas)
        self.after_draw()

    def after_draw(self) -> None:
        """Hook for views that wire mouse interaction to the new canvas."""

    def png_bytes(self) -> bytes:
        """The headless exporter's picture with the current control settings."""
        return figure_png(self.result, **self.figure_options()) or super().png_bytes()
