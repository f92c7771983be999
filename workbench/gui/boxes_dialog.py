"""Boxes drawn with the mouse over an image, for a params field marked ``{"widget": "boxes"}``.

The dialog knows nothing of the task: it shows the image the form's ``image_field`` names, lets the user drag
rectangles (Del removes the selected one; the list beside the image names each box in image pixels) and writes
them as ``[{"box": [x0, y0, x1, y1]}, ...]`` in the image's pixels, the box-list format tasks read.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from workbench.core import assets
from workbench.core.atomic import atomic_write_text
from workbench.core.errors import UserError

Box = tuple[float, float, float, float]
MIN_SIDE_PX = 2.0  # a drag shorter than this (in image pixels) is a click, not a box


def read_boxes(path: Path) -> list[Box]:
    """Boxes of a ``[{"box": [x0, y0, x1, y1]}, ...]`` file (entries of another shape are left out); a file that
    is no box list (unreadable, COCO annotations) is a UserError, so it is never overwritten with drawn boxes."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read boxes ({type(exc).__name__}: {exc})") from None
    entries = doc.get("boxes") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise UserError(f"{path}: not a box list [{{\"box\": [x0, y0, x1, y1]}}, ...]")
    return [tuple(float(v) for v in e["box"]) for e in entries
            if isinstance(e, dict) and isinstance(e.get("box"), list) and len(e["box"]) == 4]


def write_boxes(boxes: list[Box], path: Path) -> Path:
    """Write ``boxes`` (image pixels) as a box list, atomically; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps([{"box": [round(v, 1) for v in box]} for box in boxes], indent=1))
    return path


def default_boxes_path(image: Path) -> Path:
    """Where drawn boxes go unless the user picks a file: ``$WORKBENCH_HOME/inputs/boxes-<image>-<time>.json``."""
    return assets.home() / "inputs" / f"boxes-{image.stem}-{time.strftime('%Y%m%d-%H%M%S')}.json"


class BoxCanvas(QWidget):
    """The image scaled to fit, the boxes over it; drag with the left button to add a box."""

    boxes_changed = Signal()

    def __init__(self, pixmap: QPixmap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixmap = pixmap
        self.boxes: list[Box] = []
        self.selected = -1
        self._start: QPointF | None = None
        self._end: QPointF | None = None
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # --- image <-> widget coordinates ---------------------------------------------------------------
    def _frame(self) -> tuple[float, float, float]:
        """(scale, x offset, y offset) of the image drawn centred in the widget."""
        scale = min(self.width() / self.pixmap.width(), self.height() / self.pixmap.height())
        return (scale, (self.width() - scale * self.pixmap.width()) / 2,
                (self.height() - scale * self.pixmap.height()) / 2)

    def to_image(self, point: QPointF) -> QPointF:
        """A widget point in image pixels, clamped to the image."""
        scale, ox, oy = self._frame()
        x = min(max((point.x() - ox) / scale, 0.0), float(self.pixmap.width()))
        y = min(max((point.y() - oy) / scale, 0.0), float(self.pixmap.height()))
        return QPointF(x, y)

    def to_widget(self, box: Box) -> QRectF:
        scale, ox, oy = self._frame()
        x0, y0, x1, y1 = box
        return QRectF(ox + x0 * scale, oy + y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale)

    # --- mouse --------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self._start = self._end = self.to_image(event.position())
            self.update()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._start is not None:
            self._end = self.to_image(event.position())
            self.update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._start is None or event.button() != Qt.MouseButton.LeftButton:
            return
        start, end = self._start, self.to_image(event.position())
        self._start = self._end = None
        box = (min(start.x(), end.x()), min(start.y(), end.y()), max(start.x(), end.x()), max(start.y(), end.y()))
        if box[2] - box[0] >= MIN_SIDE_PX and box[3] - box[1] >= MIN_SIDE_PX:
            self.boxes.append(box)
            self.selected = len(self.boxes) - 1
            self.boxes_changed.emit()
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        scale, ox, oy = self._frame()
        painter.drawPixmap(QRectF(ox, oy, scale * self.pixmap.width(), scale * self.pixmap.height()),
                           self.pixmap, QRectF(self.pixmap.rect()))
        for i, box in enumerate(self.boxes):
            chosen = i == self.selected
            painter.setPen(QPen(QColor("#f1c40f" if chosen else "#e74c3c"), 3 if chosen else 2))
            rect = self.to_widget(box)
            painter.drawRect(rect)
            painter.drawText(rect.topLeft() + QPointF(3, 13), str(i))
        if self._start is not None and self._end is not None:
            painter.setPen(QPen(QColor("#3498db"), 2, Qt.PenStyle.DashLine))
            painter.drawRect(self.to_widget((self._start.x(), self._start.y(), self._end.x(), self._end.y())))
        painter.end()


class BoxesDialog(QDialog):
    """Draw boxes over ``image``; on OK they are written to ``path`` (the field's value)."""

    def __init__(self, image: Path, boxes: list[Box], path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pixmap = QPixmap(str(image))
        if pixmap.isNull():
            raise UserError(f"{image}: not an image this window can show")
        self.image, self.path = image, path
        self.setWindowTitle(f"Boxes on {image.name}")
        self.canvas = BoxCanvas(pixmap)
        self.canvas.boxes = list(boxes)
        self.list = QListWidget()
        self.list.setMaximumWidth(240)
        self.remove = QPushButton("Remove (Del)")
        self.where = QLabel()
        self.where.setWordWrap(True)
        save_as = QPushButton("Save as…")
        save_as.clicked.connect(self._choose_path)
        side = QVBoxLayout()
        side.addWidget(QLabel(f"{pixmap.width()}x{pixmap.height()} px; drag to add a box"))
        side.addWidget(self.list, 1)
        side.addWidget(self.remove)
        side.addWidget(self.where)
        side.addWidget(save_as)
        body = QHBoxLayout()
        body.addWidget(self.canvas, 1)
        body.addLayout(side)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.canvas.boxes_changed.connect(self._fill_list)
        self.list.currentRowChanged.connect(self._select)
        self.remove.clicked.connect(self.remove_selected)
        self._fill_list()
        self._show_path()

    def boxes(self) -> list[Box]:
        return list(self.canvas.boxes)

    def _fill_list(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems([f"{i}: " + ", ".join(f"{v:.0f}" for v in box) for i, box in enumerate(self.canvas.boxes)])
        self.list.setCurrentRow(self.canvas.selected)
        self.list.blockSignals(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.canvas.boxes))

    def _select(self, row: int) -> None:
        self.canvas.selected = row
        self.canvas.update()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Del (or Backspace) over the image or the list removes the selected box."""
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.remove_selected()
            event.accept()
            return
        super().keyPressEvent(event)

    def remove_selected(self) -> None:
        """Delete the selected box (Del)."""
        row = self.canvas.selected
        if 0 <= row < len(self.canvas.boxes):
            del self.canvas.boxes[row]
            self.canvas.selected = min(row, len(self.canvas.boxes) - 1)
            self._fill_list()
            self.canvas.update()

    def _show_path(self) -> None:
        self.where.setText(f"saved to {self.path}")

    def _choose_path(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(self, "Save boxes", str(self.path), "JSON (*.json)")
        if chosen:
            self.path = Path(chosen)
            self._show_path()

    def accept(self) -> None:
        write_boxes(self.boxes(), self.path)
        super().accept()
