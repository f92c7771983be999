"""The job queue dock: one row per job with state, progress bar, elapsed time and a cancel button."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.jobs import JobEntry, JobManager

STATE_COLOURS = {"completed": "#27ae60", "failed": "#c0392b", "cancelled": "#7f8c8d", "interrupted": "#c0392b",
                 "running": "#2980b9", "queued": "#7f8c8d"}


class JobRow(QWidget):
    """A job's line in the queue."""

    def __init__(self, entry: JobEntry, manager: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.title = QLabel()
        self.state = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.elapsed = QLabel("0.0 s")
        self.elapsed.setMinimumWidth(56)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(lambda: manager.cancel(entry.key))
        layout.addWidget(self.title, 2)
        layout.addWidget(self.state)
        layout.addWidget(self.progress, 3)
        layout.addWidget(self.elapsed)
        layout.addWidget(self.cancel)
        self.refresh()

    def refresh(self) -> None:
        e = self.entry
        self.title.setText(e.title)
        self.title.setToolTip(e.record.id if e.record else "not started")
        colour = STATE_COLOURS.get(e.state, "black")
        self.state.setText(f"<span style='color:{colour}'>{e.state}</span>")
        self.state.setToolTip(e.error)
        if e.fraction is None and e.state == "running":
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * (e.fraction or 0.0)))
        self.progress.setFormat(e.message[:60] or e.state)
        self.progress.setTextVisible(True)
        self.elapsed.setText(f"{e.elapsed():.1f} s")
        self.cancel.setEnabled(not e.finished)


class JobQueueView(QWidget):
    """All jobs of this session, newest at the bottom (scrolled into view when added); elapsed times tick while
    jobs run."""

    def __init__(self, manager: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.rows: dict[int, JobRow] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        self.list = QVBoxLayout(inner)
        self.list.addStretch(1)
        scroll.setWidget(inner)
        outer.addWidget(scroll)
        self._follow_new = False
        scroll.verticalScrollBar().rangeChanged.connect(self._show_newest)
        self.empty = QLabel("No jobs yet: pick a task and press Run.")
        self.list.insertWidget(0, self.empty)
        manager.added.connect(self._add)
        manager.changed.connect(self._refresh)
        self.timer = QTimer(self)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _add(self, entry: JobEntry) -> None:
        self.empty.hide()
        row = JobRow(entry, self.manager)
        self.rows[entry.key] = row
        self.list.insertWidget(self.list.count() - 1, row)
        self._follow_new = True  # scrolled to once the layout has grown the list (rangeChanged)

    def _show_newest(self, _low: int, high: int) -> None:
        if self._follow_new:
            self._follow_new = False
            self.scroll.verticalScrollBar().setValue(high)

    def _refresh(self, entry: JobEntry) -> None:
        if entry.key in self.rows:
            self.rows[entry.key].refresh()

    def _tick(self) -> None:
        for row in self.rows.values():
            if not row.entry.finished:
                row.refresh()
