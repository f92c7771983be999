"""Sortable tables: metrics tables and per-item rows (with optional thumbnails), copyable as CSV."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def _sort_key(value: Any) -> tuple:
    if isinstance(value, bool):
        return (0, float(value), "")
    if isinstance(value, (int, float)):
        return (0, float(value) if not math.isnan(float(value)) else math.inf, "")
    if value is None:
        return (2, 0.0, "")
    return (1, 0.0, str(value))


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


class RowsModel(QAbstractTableModel):
    """Rows of plain values; sorting is numeric for numbers. ``thumbnails[i]`` decorates row ``i``."""

    def __init__(self, columns: list[str], rows: list[list[Any]], thumbnails: list[QPixmap] | None = None) -> None:
        super().__init__()
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        self.thumbs = list(thumbnails or [])
        self.order = list(range(len(self.rows)))

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.order[index.row()]
        value = self.rows[row][index.column()] if index.column() < len(self.rows[row]) else None
        if role == Qt.ItemDataRole.DisplayRole:
            return _show(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(value)
        if role == Qt.ItemDataRole.UserRole:
            return value
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0 and row < len(self.thumbs):
            return self.thumbs[row]
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (int, float)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section] if section < len(self.columns) else None
        return str(section + 1)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self.order.sort(key=lambda r: _sort_key(self.rows[r][column] if column < len(self.rows[r]) else None),
                        reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()

    def visible_rows(self) -> list[list[Any]]:
        """Rows in the order shown (after sorting), for CSV export."""
        return [self.rows[r] for r in self.order]

    def set_column(self, name: str, values: list[Any]) -> None:
        """Add or replace a column (e.g. a flag that follows the threshold slider)."""
        if name not in self.columns:
            self.beginInsertColumns(QModelIndex(), len(self.columns), len(self.columns))
            self.columns.append(name)
            for row in self.rows:
                row.append(None)
            self.endInsertColumns()
        col = self.columns.index(name)
        for row, value in zip(self.rows, values):
            row[col] = value
        self.dataChanged.emit(self.index(0, col), self.index(len(self.rows) - 1, col))


def make_table(model: RowsModel, icon_size: int = 0) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSortingEnabled(True)
    table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    if icon_size:
        table.setIconSize(QSize(icon_size, icon_size))
        table.verticalHeader().setDefaultSectionSize(icon_size + 4)
    table.resizeColumnsToContents()  # headers and values fit; the user can still drag the columns
    return table
