"""Per-item tables you can click through: the selected row's picture is shown beside the table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from workbench.gui.qt_images import qimage
from workbench.gui.views.tables import RowsModel, make_table

Picture = np.ndarray | str | Path | None
PictureOf = Callable[[int], tuple[Picture, str]]
PICTURE_SIZE = 220


def pixmap_of(picture: Picture, size: int = PICTURE_SIZE) -> QPixmap | None:
    """A numpy image or an image file as a pixmap ``size`` pixels on its long side (small images are enlarged
    without smoothing, so pixels stay visible); None when there is nothing to show or the file is unreadable."""
    if picture is None:
        return None
    pix = QPixmap(str(picture)) if isinstance(picture, (str, Path)) else QPixmap.fromImage(qimage(picture))
    if pix.isNull():
        return None
    small = max(pix.width(), pix.height()) < size
    mode = Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation
    return pix.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)


class ItemBrowser(QSplitter):
    """A sortable table of items and, beside it, the picture of the row clicked (or moved to with the keys).

    ``picture_of(row)`` gives the item's picture and caption for a row of the model's own order (the table's
    sorting does not change it).
    """

    def __init__(self, model: RowsModel, picture_of: PictureOf, icon_size: int = 0,
                 parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.picture_of = picture_of
        self.table = make_table(model, icon_size)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        self.picture = QLabel("click a row to see its item")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setWordWrap(True)
        self.picture.setMinimumSize(PICTURE_SIZE // 2, PICTURE_SIZE // 2)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        self.addWidget(self.table)
        self.addWidget(panel)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 1)
        self.shown_row: int | None = None
        self._connect()

    def set_model(self, model: RowsModel) -> None:
        self.table.setModel(model)
        self.table.resizeColumnsToContents()
        self._connect()

    def _connect(self) -> None:
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.show_row(self.table.model().order[current.row()])

    def show_row(self, row: int) -> None:
        """Show the picture and caption of the model's row ``row``."""
        picture, caption = self.picture_of(row)
        pix = pixmap_of(picture)
        self.shown_row = row
        if pix is None:
            self.picture.setPixmap(QPixmap())
            self.picture.setText("no picture for this item" if picture is None else f"cannot read {picture}")
        else:
            self.picture.setPixmap(pix)
        self.caption.setText(caption)
