"""The main window: task browser, parameter form, job queue, log and run history docks around result tabs.

Nothing heavy is imported here: the result views (matplotlib) load when the first result arrives, and
tasks run through the core Runner off the GUI thread.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QTabBar,
    QTabWidget,
    QWidget,
)

from workbench.core import assets, devices
from workbench.core.plugins import PluginHost, PluginInfo, get_host
from workbench.core.results import Result
from workbench.core.runner import RunEvent, RunRequest
from workbench.core.runstore import RunRecord, RunStore
from workbench.core.specs import SampleSpec, TaskSpec, resolve_entry
from workbench.gui import device_probe
from workbench.gui.device_probe import MachineDevices
from workbench.gui.error_panel import ErrorPanel
from workbench.gui.history import RunHistory
from workbench.gui.job_queue import JobQueueView
from workbench.gui.jobs import JobEntry, JobManager
from workbench.gui.param_form import ParamForm
from workbench.gui.task_browser import TaskBrowser

WELCOME = """<h2>Alignment Workbench</h2>
<p>Pick a task on the left, fill its parameters on the right and press <b>Run</b>.
Each run opens here in its own tab, one sub-tab per result (Ctrl+W closes a tab); jobs, the log and
past runs are in the docks below.</p>
<p>Drop a file or folder onto the window to fill the task's path field, or a run folder to reopen it.
Double-click a sample world to look inside it.</p>"""


class _SampleSignals(QObject):
    loaded = Signal(object, object, str)


class _SampleLoader(QRunnable):
    def __init__(self, spec: SampleSpec, signals: _SampleSignals) -> None:
        super().__init__()
        self.spec, self.signals = spec, signals

    def run(self) -> None:
        try:
            data = resolve_entry(self.spec.loader)()
        except Exception as exc:  # a broken sample loader is reported, not fatal
            self.signals.loaded.emit(self.spec, None, f"{type(exc).__name__}: {exc}")
            return
        self.signals.loaded.emit(self.spec, data, "")


class _RunTabBar(QTabBar):
    """Tabs that shrink (eliding the middle of "task · run id") but never to an unreadable "…": past that, the
    bar scrolls."""

    MIN_WIDTH = 180

    def minimumTabSizeHint(self, index: int) -> QSize:  # noqa: N802 - Qt API
        hint = super().minimumTabSizeHint(index)
        return QSize(min(max(hint.width(), self.MIN_WIDTH), self.tabSizeHint(index).width()), hint.height())


class ResultTabs(QTabWidget):
    """The window's central tabs: one per run (and the welcome page and error panels)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabBar(_RunTabBar())
        self.setTabsClosable(True)
        self.setDocumentMode(True)
        self.setUsesScrollButtons(True)
        self.setElideMode(Qt.TextElideMode.ElideMiddle)  # keeps the task's title and the run id's end


class RunTab(QTabWidget):
    """One run's tab in the window: its result views as sub-tabs (one per result name)."""

    def __init__(self, run_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_id, self.title = run_id, title
        self.views: dict[str, QWidget] = {}
        self.setDocumentMode(True)
        self.setUsesScrollButtons(True)
        self.setElideMode(Qt.TextElideMode.ElideRight)

    def view(self, name: str) -> QWidget | None:
        view = self.views.get(name)
        return view if view is not None and self.indexOf(view) >= 0 else None


class MainWindow(QMainWindow):
    """``result_shown(run_id, Result)`` fires whenever a result tab is created or updated."""

    result_shown = Signal(str, object)

    def __init__(self, host: PluginHost | None = None, store: RunStore | None = None, parallel_jobs: int = 1) -> None:
        super().__init__()
        self.setWindowTitle("Alignment Workbench")
        screen = QGuiApplication.primaryScreen()
        size = QSize(1400, 880)
        self.resize(size.boundedTo(screen.availableGeometry().size()) if screen is not None else size)
        self.setAcceptDrops(True)
        self.host = host or get_host()
        self.store = store or RunStore(assets.runs_dir())
        self.titles = {t.id: t.title for t in self.host.registry.tasks.values()}
        self.views: dict[tuple[str, str], QWidget] = {}
        self.run_tabs: dict[str, RunTab] = {}
        devices.set_probe(device_probe.answer)  # a job's placement asks the probe's subprocess, never torch in here
        self._probe_installed = True
        self.machine = MachineDevices(self)
        self.jobs = JobManager(self.host, self.store, parallel=parallel_jobs, parent=self)
        self._sample_signals = _SampleSignals()
        self._sample_signals.loaded.connect(self._sample_loaded)

        self.tabs = ResultTabs()
        self.tabs.tabCloseRequested.connect(self._close_tab)
        welcome = QLabel(WELCOME)
        welcome.setWordWrap(True)
        welcome.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        welcome.setMargin(16)
        self.tabs.addTab(welcome, "Welcome")
        self.setCentralWidget(self.tabs)

        self.browser = TaskBrowser(self.host)
        self.browser.setMinimumWidth(280)
        self.form = ParamForm(self.machine)
        self.queue = JobQueueView(self.jobs)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.history = RunHistory(self.store, self.titles)
        left = self._dock("Tasks", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        params_dock = self._dock("Parameters", self.form, Qt.DockWidgetArea.RightDockWidgetArea)
        jobs_dock = self._dock("Jobs", self.queue, Qt.DockWidgetArea.BottomDockWidgetArea)
        log_dock = self._dock("Log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        history_dock = self._dock("Run history", self.history, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(jobs_dock, log_dock)
        self.tabifyDockWidget(log_dock, history_dock)
        jobs_dock.raise_()
        self._sized_docks = False
        self._left_dock, self._params_dock, self._jobs_dock = left, params_dock, jobs_dock
        self._menus()

        self.browser.task_selected.connect(self.select_task)
        self.browser.plugin_selected.connect(self._plugin_selected)
        self.browser.info_selected.connect(self.form.show_info)
        self.browser.sample_activated.connect(self.open_sample)
        self.form.run_requested.connect(self.submit)
        self.jobs.event.connect(self._job_event)
        self.jobs.finished.connect(self._job_finished)
        self.jobs.batch_finished.connect(self._batch_finished)
        self.history.open_requested.connect(self.open_run)
        loaded = [p for p in self.host.plugins.values() if p.status == "loaded" and p.name != "host"]
        failed = self.host.failed()
        self.statusBar().showMessage(f"{len(loaded)} plugins loaded, {len(failed)} failed, "
                                     f"{len(self.host.registry.tasks)} tasks")
        QTimer.singleShot(300, self.machine.start)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_recipe = QAction("Open recipe…", self)
        open_recipe.setShortcut(QKeySequence.StandardKey.Open)
        open_recipe.triggered.connect(self.open_recipe_dialog)
        file_menu.addAction(open_recipe)
        export = QAction("Export session as recipe…", self)
        export.triggered.connect(self.history.export_session_dialog)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        close_tab = QAction("Close tab", self)
        close_tab.setShortcuts(list(dict.fromkeys([QKeySequence("Ctrl+W"),
                                                   *QKeySequence.keyBindings(QKeySequence.StandardKey.Close)])))
        close_tab.triggered.connect(self.close_current_tab)
        self.addAction(close_tab)
        file_menu.addAction(export)
        file_menu.addAction(close_tab)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        for dock in self.findChildren(QDockWidget):
            view_menu.addAction(dock.toggleViewAction())

    # --- tasks and jobs -----------------------------------------------------------------------------
    def select_task(self, spec: TaskSpec | str) -> None:
        if isinstance(spec, str):
            self.browser.select_task(spec)
            return
        reason = self.host.registry.unavailable.get(spec.qualified_id)
        if reason:
            self.form.show_info(f"<b>{html.escape(spec.title)}</b> ({html.escape(spec.id)}, {html.escape(spec.plugin)})"
                                f"<br>cannot run: {html.escape(reason, quote=False)}")
            return
        self.form.set_task(spec)

    def submit(self, request: RunRequest) -> JobEntry:
        entry = self.jobs.submit(request, self.titles.get(request.task, request.task))
        self.append_log(f"queued {request.task} (backend {request.backend}, device {request.device})")
        return entry

    def open_recipe_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        name, _ = QFileDialog.getOpenFileName(self, "Open recipe", str(assets.resource("recipes")),
                                              "Recipe (*.yaml *.yml)")
        if name:
            self.open_recipe(Path(name))

    def open_recipe(self, path: Path, folder: Path | None = None, confirm: bool = True):
        """Show a recipe's steps and run them through the core batch engine (one queue entry per step).

        The batch folder (``$WORKBENCH_HOME/batches/...`` unless ``folder``) gets ``recipe.yaml``, the runs,
        ``batch.json`` and the report, exactly as ``workbench batch`` writes them.
        """
        from PySide6.QtWidgets import QMessageBox

        from workbench.core.batch import Batch
        from workbench.core.errors import UserError

        try:
            batch = Batch.from_file(path, folder, keep_going=True)
        except UserError as exc:
            self.show_error(f"recipe {Path(path).name} cannot run", str(exc))
            return None
        steps = "\n".join(f"{s.index}. {s.name} ({s.task})" for s in batch.record.steps)
        if confirm:
            box = QMessageBox(QMessageBox.Icon.Question, "Run recipe",
                              f"Run the {len(batch.steps)} steps of '{batch.recipe.name}'?",
                              QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel, self)
            box.setDetailedText(steps + ("\n\nnotes:\n" + "\n".join(batch.record.notes) if batch.record.notes else ""))
            if box.exec() != QMessageBox.StandardButton.Ok:
                return None
        for note in batch.record.notes:
            self.append_log(f"note: {note}")
        self.append_log(f"recipe {path}: {len(batch.steps)} steps into {batch.folder}")
        self.jobs.submit_batch(batch)
        self._jobs_dock.raise_()
        return batch

    def _batch_finished(self, batch, record, error: str) -> None:
        counts = ", ".join(f"{n} {state}" for state, n in record.counts().items())
        message = f"recipe {record.name}: {record.state} ({counts}); summary {batch.json_path}"
        self.append_log(message + (f"; report {record.report}" if record.report else ""))
        self.statusBar().showMessage(message, 15000)
        if error:
            self.show_error(f"recipe {record.name}", error)

    def _job_event(self, entry: JobEntry, ev: RunEvent) -> None:
        if ev.kind == "result" and ev.result is not None:
            self.show_result(ev.run_id, ev.result, self.titles.get(entry.request.task, entry.title))
        elif ev.kind == "log":
            self.append_log(f"[{entry.title}] {ev.message}")
        elif ev.kind == "state":
            self.append_log(f"[{entry.title}] {ev.state}" + (f": {ev.message}" if ev.message else ""))

    def _job_finished(self, entry: JobEntry) -> None:
        if entry.record is not None:
            self.history.add_session_run(entry.record.id)
        if entry.state == "failed":
            self.show_error(f"{entry.title} failed", entry.error, entry.traceback)
        self.append_log(f"[{entry.title}] finished: {entry.state} in {entry.elapsed():.1f} s")

    def append_log(self, line: str) -> None:
        self.log.appendPlainText(line)

    # --- result tabs --------------------------------------------------------------------------------
    def run_tab(self, run_id: str, title: str = "") -> RunTab:
        """The run's tab (created when missing), titled with the task and the run id."""
        tab = self.run_tabs.get(run_id)
        if tab is not None and self.tabs.indexOf(tab) >= 0:
            return tab
        title = title or run_id
        tab = RunTab(run_id, title)
        self.run_tabs[run_id] = tab
        label = title if title == run_id else f"{title} · {run_id}"
        index = self.tabs.addTab(tab, label)
        self.tabs.setTabToolTip(index, label)
        return tab

    def show_result(self, run_id: str, result: Result, title: str = "") -> QWidget:
        """Show ``result`` in its run's tab: a new sub-tab, or, when the run already showed that name, the same
        view updated in place (live curves)."""
        from workbench.gui.views import create_view

        key = (run_id, result.name)
        tab = self.run_tab(run_id, title)
        view = tab.view(result.name)
        if view is not None:
            view.update_result(result)
        else:
            view = create_view(result)
            self.views[key] = tab.views[result.name] = view
            index = tab.addTab(view, result.title or result.name)
            tab.setTabToolTip(index, f"{result.kind} '{result.name}' from {run_id}")
            self.focus_view(view)
        self.result_shown.emit(run_id, result)
        return view

    def focus_view(self, view: QWidget) -> None:
        """Bring a result view to the front: its run's tab, then its sub-tab."""
        for tab in self.run_tabs.values():
            if tab.indexOf(view) >= 0:
                tab.setCurrentWidget(view)
                if self.tabs.indexOf(tab) >= 0:
                    self.tabs.setCurrentWidget(tab)
                return

    def current_view(self) -> QWidget | None:
        """The result view in front (None when the front tab is not a run's)."""
        tab = self.tabs.currentWidget()
        return tab.currentWidget() if isinstance(tab, RunTab) else None

    def show_error(self, title: str, message: str, traceback: str = "") -> ErrorPanel:
        panel = ErrorPanel(title, message, traceback)
        self.tabs.setCurrentIndex(self.tabs.addTab(panel, f"⚠ {title}"))
        return panel

    def _close_tab(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget is None:
            return
        self.tabs.removeTab(index)
        closed = set(widget.views.values()) if isinstance(widget, RunTab) else {widget}
        self.views = {k: v for k, v in self.views.items() if v not in closed}
        self.run_tabs = {k: t for k, t in self.run_tabs.items() if t is not widget}
        widget.deleteLater()

    def close_current_tab(self) -> None:
        """Ctrl+W: close the tab in front (a run's tab with all its views, an error panel, the welcome page)."""
        if self.tabs.count():
            self._close_tab(self.tabs.currentIndex())

    def _plugin_selected(self, info: PluginInfo) -> None:
        tasks = ", ".join(info.tasks) or "no tasks"
        self.form.show_info(f"<b>{info.name}</b> {info.version} ({info.status})<br>{info.module}<br>{tasks}")
        if info.status == "failed":
            self.show_error(f"plugin {info.name} failed to load", info.error, info.traceback)

    def open_run(self, run_dir: Path, record: RunRecord | None = None) -> None:
        """Open a past run in its own tab; a run that is already open is brought to the front instead."""
        record = record or RunStore.load(run_dir)
        tab = self.run_tabs.get(record.id)
        if tab is not None and self.tabs.indexOf(tab) >= 0:
            self.tabs.setCurrentWidget(tab)
            self.append_log(f"{record.id} is already open")
            return
        for result in RunStore.results(run_dir):
            self.show_result(record.id, result, self.titles.get(record.task, record.task))
        if record.state.value in ("failed", "interrupted"):
            self.show_error(f"{self.titles.get(record.task, record.task)} {record.state.value}",
                            record.error, record.traceback)
        self.append_log(f"opened {run_dir}")

    def open_sample(self, spec: SampleSpec) -> None:
        self.append_log(f"loading sample {spec.id}…")
        QThreadPool.globalInstance().start(_SampleLoader(spec, self._sample_signals))

    def _sample_loaded(self, spec: SampleSpec, data, error: str) -> None:
        if error:
            self.show_error(f"sample {spec.id} could not be loaded", error)
            return
        from workbench.gui.sample_preview import preview_results

        for result in preview_results(spec.id, spec.title, data):
            self.show_result(f"sample:{spec.id}", result, spec.title)
        self.append_log(f"sample {spec.id} loaded")

    # --- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.drop_path(Path(url.toLocalFile()))
        event.acceptProposedAction()

    def drop_path(self, path: Path) -> None:
        if (path / "run.json").is_file():
            self.open_run(path)
        elif path.suffix in (".yaml", ".yml") and path.is_file():
            self.open_recipe(path)
        elif self.form.set_path(path):
            self.append_log(f"{path} put into the form")
        else:
            task = self.form.spec.id if self.form.spec else "no task chosen"
            self.statusBar().showMessage(f"{path}: the current task ({task}) has no "
                                         f"{'folder' if path.is_dir() else 'file'} parameter", 8000)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._sized_docks:
            self._sized_docks = True
            # the side docks leave the result tabs most of a 1280-pixel-wide screen
            self.resizeDocks([self._left_dock, self._params_dock], [320, 360], Qt.Orientation.Horizontal)
            self.resizeDocks([self._jobs_dock], [170], Qt.Orientation.Vertical)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.jobs.cancel_all()
        self.jobs.wait(5000)
        self.machine.stop()
        if self._probe_installed:
            self._probe_installed = False
            devices.set_probe(None)
        super().closeEvent(event)
