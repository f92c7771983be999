"""The run history dock: every run in the run store, newest first; reopen results or export a recipe."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.recipes import write_recipe
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunRecord, RunStore
from workbench.gui.job_queue import STATE_COLOURS

ROLE = Qt.ItemDataRole.UserRole


class RunHistory(QWidget):
    """``open_requested(run_dir, record)`` when a run is double-clicked or "Open" is pressed;
    ``load_requested(record)`` to put its parameters back into the form, ``rerun_requested(record)`` to run it
    again as it was."""

    open_requested = Signal(object, object)
    load_requested = Signal(object)
    rerun_requested = Signal(object)

    def __init__(self, store: RunStore, titles: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.titles = titles
        self.session_runs: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["run", "task", "state", "created", "seconds", "error"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setRootIsDecorated(False)
        self.tree.setSortingEnabled(True)
        self.tree.itemActivated.connect(lambda item: self.open_requested.emit(*item.data(0, ROLE)))
        layout.addWidget(self.tree)
        buttons = QHBoxLayout()
        for text, slot in (("Refresh", self.refresh), ("Open results", self._open_selected),
                           ("Load parameters", self._load_selected), ("Re-run", self._rerun_selected),
                           ("Export session as recipe…", self.export_session_dialog),
                           ("Export selected as recipe…", self._export_selected)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        for run_dir, record in self.store.list():
            item = QTreeWidgetItem(self.tree, [record.id, self.titles.get(record.task, record.task),
                                               record.state.value, record.created[:19].replace("T", " "),
                                               f"{record.duration_s:.1f}", record.error[:120]])
            item.setData(0, ROLE, (run_dir, record))
            item.setForeground(2, QBrush(QColor(STATE_COLOURS.get(record.state.value, "black"))))
            item.setToolTip(5, record.error)
            if record.id in self.session_runs:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
        self.tree.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        for col in range(5):
            self.tree.resizeColumnToContents(col)

    def add_session_run(self, run_id: str) -> None:
        self.session_runs.append(run_id)
        self.refresh()

    def _selected(self) -> list[tuple[Path, RunRecord]]:
        return [item.data(0, ROLE) for item in self.tree.selectedItems()]

    def _open_selected(self) -> None:
        for run_dir, record in self._selected():
            self.open_requested.emit(run_dir, record)

    def _load_selected(self) -> None:
        selected = self._selected()
        if selected:
            self.load_requested.emit(selected[0][1])

    def _rerun_selected(self) -> None:
        for _, record in sorted(self._selected(), key=lambda pair: pair[1].id):
            self.rerun_requested.emit(record)

    def session_records(self) -> list[RunRecord]:
        """This session's runs in the order they were started (only completed ones replay meaningfully)."""
        by_id = {record.id: record for _, record in self.store.list()}
        return [by_id[r] for r in self.session_runs if r in by_id and by_id[r].state.value == "completed"]

    def export_recipe(self, path: Path, records: list[RunRecord], name: str = "gui-session") -> Path:
        """Write a recipe (one step per run, from each record's re-runnable request) for ``workbench batch``."""
        requests = [RunRequest(**record.request(), recipe_step=f"{i}. {self.titles.get(record.task, record.task)}")
                    for i, record in enumerate(records, start=1)]
        return write_recipe(path, name, requests)

    def _ask_and_export(self, records: list[RunRecord]) -> None:
        if not records:
            return
        name, _ = QFileDialog.getSaveFileName(self, "Export recipe", "recipe.yaml", "Recipe (*.yaml *.yml)")
        if name:
            self.export_recipe(Path(name), records, Path(name).stem)

    def export_session_dialog(self) -> None:
        self._ask_and_export(self.session_records())

    def _export_selected(self) -> None:
        records = sorted((r for _, r in self._selected()), key=lambda r: r.id)
        self._ask_and_export(records)
