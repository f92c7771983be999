"""The main window: task browser, parameter form, job queue, log and run history docks around result tabs.

Nothing heavy is imported here: the first frame draws the task browser from the cached plugin listing, and the
plugin host, the run store, the jobs, the form and the run history (pydantic, numpy, every plugin) are built
right after it is painted, or by their first use; the result views (matplotlib) load when the first result
arrives, and tasks run through the core Runner off the GUI thread.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QRunnable, QSize, Qt, QThreadPool, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QTabBar,
    QTabWidget,
    QToolButton,
    QWidget,
)

from workbench.core import assets, devices
from workbench.core.plugin_listing import Listing, cached_browser_listing, listing_of
from workbench.gui import device_probe
from workbench.gui import settings as memory
from workbench.gui.device_probe import MachineDevices
from workbench.gui.error_panel import ErrorPanel
from workbench.gui.help_info import about_html, docs_location, log_folder
from workbench.gui.task_browser import TaskBrowser

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox, QSystemTrayIcon

    from workbench.core.plugins import PluginHost
    from workbench.core.results import Result
    from workbench.core.runner import RunEvent, RunRequest
    from workbench.core.runstore import RunRecord, RunStore
    from workbench.core.specs import SampleSpec, TaskSpec
    from workbench.gui.history import RunHistory
    from workbench.gui.job_queue import JobQueueView
    from workbench.gui.jobs import JobEntry, JobManager
    from workbench.gui.param_form import ParamForm


def _loading() -> QLabel:
    """What a dock shows in the first frame, until :meth:`MainWindow.finish_start` puts its widget in."""
    label = QLabel("loading…")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


WELCOME = """<h2>Alignment Workbench</h2>
<p>Pick a task on the left, fill its parameters on the right and press <b>Run</b>.
Each run opens here in its own tab, one sub-tab per result (Ctrl+W closes a tab); jobs, the log and
past runs are in the docks below.</p>
<p>Drop a file or folder onto the window to fill the task's path field, a recipe to run it, or a run folder
to reopen it (File &gt; Open does the same). Double-click a sample world to look inside it; the run history
loads a past run's parameters back into the form or runs it again.</p>"""


class _SampleSignals(QObject):
    loaded = Signal(object, object, str)


class _SampleLoader(QRunnable):
    def __init__(self, spec: SampleSpec, signals: _SampleSignals) -> None:
        super().__init__()
        self.spec, self.signals = spec, signals

    def run(self) -> None:
        from workbench.core.specs import resolve_entry

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

    def link_siblings(self) -> None:
        """Several results of one kind (a scene's boxes per scene, a map per item) get "◀ k/n ▶" to step through
        them in place."""
        by_kind: dict[str, list[QWidget]] = {}
        for index in range(self.count()):
            view = self.widget(index)
            if hasattr(view, "set_steps"):
                by_kind.setdefault(view.result.kind, []).append(view)
        for views in by_kind.values():
            if len(views) > 1:
                for i, view in enumerate(views):
                    view.set_steps(i, len(views), lambda k, views=views: self.setCurrentWidget(views[k]))


class MainWindow(QMainWindow):
    """``result_shown(run_id, Result)`` fires whenever a result tab is created or updated.

    ``long_job_s``: a job that ran at least this long and ends while the window is in the background raises a
    desktop notification (the tray's message where there is a tray, else the status bar and a taskbar alert).
    """

    result_shown = Signal(str, object)
    long_job_s = 20.0

    def __init__(self, host: PluginHost | None = None, store: RunStore | None = None, parallel_jobs: int = 1) -> None:
        super().__init__()
        self.setWindowTitle("Alignment Workbench")
        screen = QGuiApplication.primaryScreen()
        size = QSize(1400, 880)
        self.resize(size.boundedTo(screen.availableGeometry().size()) if screen is not None else size)
        self.setAcceptDrops(True)
        self.settings = memory.open_settings()
        self._tray: QSystemTrayIcon | None = None
        self.last_notice: tuple[str, str, str] | None = None
        self._log_file = None
        self._host, self._store, self._parallel_jobs = host, store, parallel_jobs
        self._started = False
        listing = listing_of(host) if host is not None else cached_browser_listing()
        if listing is None:  # this process already holds a host: no cache needed
            listing = listing_of(self.host)
        self.titles = {t["id"]: t["title"] for family in listing["families"] for t in family["tasks"]}
        self.views: dict[tuple[str, str], QWidget] = {}
        self.run_tabs: dict[str, RunTab] = {}
        devices.set_probe(device_probe.answer)  # a job's placement asks the probe's subprocess, never torch in here
        self._probe_installed = True
        self.machine = MachineDevices(self)
        self._sample_signals = _SampleSignals()
        self._sample_signals.loaded.connect(self._sample_loaded)

        self.tabs = ResultTabs()
        self.tabs.tabCloseRequested.connect(self._close_tab)
        self.tab_list = QMenu("Open tabs", self)
        self.tab_list.aboutToShow.connect(self._fill_tab_list)
        tab_button = QToolButton()
        tab_button.setText("☰")
        tab_button.setToolTip("list of open tabs")
        tab_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        tab_button.setMenu(self.tab_list)
        self.tabs.setCornerWidget(tab_button, Qt.Corner.TopRightCorner)
        welcome = QLabel(WELCOME)
        welcome.setWordWrap(True)
        welcome.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        welcome.setMargin(16)
        self.tabs.addTab(welcome, "Welcome")
        self.setCentralWidget(self.tabs)

        self.browser = TaskBrowser(listing)
        self.browser.setMinimumWidth(280)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        left = self._dock("Tasks", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        params_dock = self._dock("Parameters", _loading(), Qt.DockWidgetArea.RightDockWidgetArea)
        jobs_dock = self._dock("Jobs", _loading(), Qt.DockWidgetArea.BottomDockWidgetArea)
        log_dock = self._dock("Log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        history_dock = self._dock("Run history", _loading(), Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(jobs_dock, log_dock)
        self.tabifyDockWidget(log_dock, history_dock)
        jobs_dock.raise_()
        self._sized_docks = False
        self._left_dock, self._params_dock, self._jobs_dock = left, params_dock, jobs_dock
        self._history_dock = history_dock
        self._menus([left, params_dock, jobs_dock, log_dock, history_dock])

        self.browser.task_selected.connect(self._task_chosen)
        self.browser.plugin_selected.connect(self._plugin_selected)
        self.browser.info_selected.connect(lambda text: self.form.show_info(text))
        self.browser.sample_activated.connect(lambda ref: self.open_sample(self.host.registry.samples[ref]))
        self._status_from(listing)
        self._restore_layout()
        self.browser.viewport().installEventFilter(self)  # the first paint starts the rest (finish_start)
        QTimer.singleShot(300, self.machine.start)

    # --- start-up: the first frame, then the rest -------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint and watched is self.browser.viewport():
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self.finish_start)
        return super().eventFilter(watched, event)

    def finish_start(self) -> None:
        """Load the plugin host and build the run store, jobs, form, job queue and run history (once): right
        after the first frame, or earlier when something needs them."""
        if self._started:
            return
        self._started = True
        from workbench.core.runstore import RunStore
        from workbench.gui.history import RunHistory
        from workbench.gui.job_queue import JobQueueView
        from workbench.gui.jobs import JobManager
        from workbench.gui.param_form import ParamForm

        host = self.host
        listing = listing_of(host)
        if listing != self.browser.listing:  # the host changed since the listing was cached
            self.browser.populate(listing)
            self._status_from(listing)
        self.titles.update({t.id: t.title for t in host.registry.tasks.values()})
        self._store = self._store or RunStore(assets.runs_dir())
        self._jobs = JobManager(host, self._store, parallel=self._parallel_jobs, parent=self)
        self._form = ParamForm(self.machine)
        self._queue = JobQueueView(self._jobs)
        self._history = RunHistory(self._store, self.titles)
        for dock, widget in ((self._params_dock, self._form), (self._jobs_dock, self._queue),
                             (self._history_dock, self._history)):
            dock.widget().deleteLater()
            dock.setWidget(widget)
        self._form.run_requested.connect(self.submit)
        self._jobs.event.connect(self._job_event)
        self._jobs.finished.connect(self._job_finished)
        self._jobs.batch_finished.connect(self._batch_finished)
        self._history.open_requested.connect(self.open_run)
        self._history.load_requested.connect(self.load_request)
        self._history.rerun_requested.connect(self.rerun)

    @property
    def host(self) -> PluginHost:
        """The plugin host (loaded at the first use)."""
        if self._host is None:
            from workbench.core.plugins import get_host

            self._host = get_host()
        return self._host

    @property
    def store(self) -> RunStore:
        self.finish_start()
        return self._store

    @property
    def jobs(self) -> JobManager:
        self.finish_start()
        return self._jobs

    @property
    def form(self) -> ParamForm:
        self.finish_start()
        return self._form

    @property
    def queue(self) -> JobQueueView:
        self.finish_start()
        return self._queue

    @property
    def history(self) -> RunHistory:
        self.finish_start()
        return self._history

    def _status_from(self, listing: Listing) -> None:
        plugins = listing["plugins"]
        loaded = sum(p["status"] == "loaded" for p in plugins)
        failed = sum(p["status"] == "failed" for p in plugins)
        tasks = sum(len(family["tasks"]) for family in listing["families"])
        self.statusBar().showMessage(f"{loaded} plugins loaded, {failed} failed, {tasks} tasks")

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work with the menu bar hidden too
        return action

    def _menus(self, docks: list[QDockWidget]) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open recipe…", self.open_recipe_dialog, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open run folder…", self.open_run_dialog, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        self._action(file_menu, "Export session as recipe…", lambda: self.history.export_session_dialog())
        file_menu.addSeparator()
        close_keys = list(dict.fromkeys([QKeySequence("Ctrl+W"),
                                         *QKeySequence.keyBindings(QKeySequence.StandardKey.Close)]))
        self._action(file_menu, "Close tab", self.close_current_tab, close_keys)
        self._action(file_menu, "Close all tabs", self.close_all_tabs, "Ctrl+Shift+W")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        for dock in docks:
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        view_menu.addMenu(self.tab_list)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "Documentation", self.open_docs, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "Open log folder", self.open_log_folder)
        self._action(help_menu, "About Alignment Workbench", self.show_about)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        paths = memory.recent_files(self.settings)
        for path in paths:
            action = self.recent_menu.addAction(f"{path.name}  ({path.parent})")
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if not paths:
            self.recent_menu.addAction("(nothing opened yet)").setEnabled(False)

    def _fill_tab_list(self) -> None:
        self.tab_list.clear()
        for index in range(self.tabs.count()):
            action = self.tab_list.addAction(self.tabs.tabText(index))
            action.setCheckable(True)
            action.setChecked(index == self.tabs.currentIndex())
            action.triggered.connect(lambda _=False, i=index: self.tabs.setCurrentIndex(i))
        self.tab_list.addSeparator()
        self.tab_list.addAction("Close all tabs", self.close_all_tabs)

    # --- help ---------------------------------------------------------------------------------------
    def docs_url(self) -> QUrl:
        """The README of a source install (empty for a wheel: the status bar then says where to look)."""
        readme = docs_location()
        return QUrl() if readme is None else QUrl.fromLocalFile(str(readme))

    def open_docs(self) -> None:
        url = self.docs_url()
        if url.isEmpty():
            self.statusBar().showMessage("documentation: the project's README and docs/; `workbench --help` "
                                         "and `workbench run TASK --help` describe every command and task", 15000)
        else:
            QDesktopServices.openUrl(url)

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_folder())))

    def show_about(self) -> QMessageBox:
        from PySide6.QtWidgets import QMessageBox  # imported where used: its enums would cost the first frame

        box = QMessageBox(QMessageBox.Icon.Information, "About Alignment Workbench", about_html(self.host),
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.open()
        return box

    # --- tasks and jobs -----------------------------------------------------------------------------
    def _task_chosen(self, ref: str) -> None:
        self.select_task(self.host.registry.tasks[ref])

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
        last = memory.last_request(self.settings, spec.id)
        if last:
            self.form.apply_request(last)

    def submit(self, request: RunRequest) -> JobEntry:
        title = self.titles.get(request.task, request.task)
        memory.remember_request(self.settings, request.task, request.model_dump(
            include={"params", "backend", "device", "seed", "execution"}, mode="json"))
        entry = self.jobs.submit(request, title)
        self.append_log(f"queued {request.task} (backend {request.backend}, device {request.device})")
        self.statusBar().showMessage(f"queued {title}", 8000)
        self._jobs_dock.raise_()
        return entry

    def load_request(self, record: RunRecord) -> bool:
        """Put a past run's parameters and placement back into the form (its task chosen); False when the task
        is not installed any more."""
        if record.task not in self.host.registry.tasks:
            self.statusBar().showMessage(f"{record.id}: task {record.task} is not installed", 8000)
            return False
        self.browser.select_task(record.task)
        if self.form.spec is None or self.form.spec.id != record.task:
            return False
        self.form.apply_request({**record.request(), "execution": record.execution})
        self._params_dock.raise_()
        self.statusBar().showMessage(f"parameters of {record.id} loaded into the form", 8000)
        return True

    def rerun(self, record: RunRecord) -> JobEntry | None:
        """Run a past run again with its recorded request (parameters, backend, device, seed)."""
        if record.task not in self.host.registry.tasks:
            self.statusBar().showMessage(f"{record.id}: task {record.task} is not installed", 8000)
            return None
        from workbench.core.runner import RunRequest

        return self.submit(RunRequest(**record.request()))

    def open_run_dialog(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Open run folder", str(self.store.root))
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path) -> None:
        """Open a run folder (its results) or a recipe (its steps), as File > Open and dropping do."""
        path = Path(path)
        if (path / "run.json").is_file():
            self.open_run(path)
        elif path.suffix in (".yaml", ".yml") and path.is_file():
            self.open_recipe(path)
        else:
            self.show_error(f"{path.name} cannot be opened", f"{path} is neither a run folder (it has no run.json) "
                            "nor a recipe (.yaml/.yml file)")

    def open_recipe_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open recipe", str(assets.resource("recipes")),
                                              "Recipe (*.yaml *.yml)")
        if name:
            self.open_recipe(Path(name))

    def open_recipe(self, path: Path, folder: Path | None = None, confirm: bool = True):
        """Show a recipe's steps and run them through the core batch engine (one queue entry per step).

        The batch folder (``$WORKBENCH_HOME/batches/...`` unless ``folder``) gets ``recipe.yaml``, the runs,
        ``batch.json`` and the report, exactly as ``workbench batch`` writes them.
        """
        from workbench.core.batch import Batch
        from workbench.core.errors import UserError

        try:
            batch = Batch.from_file(path, folder, keep_going=True)
        except UserError as exc:
            self.show_error(f"recipe {Path(path).name} cannot run", str(exc))
            return None
        steps = "\n".join(f"{s.index}. {s.name} ({s.task})" for s in batch.record.steps)
        if confirm:
            from PySide6.QtWidgets import QMessageBox

            box = QMessageBox(QMessageBox.Icon.Question, "Run recipe",
                              f"Run the {len(batch.steps)} steps of '{batch.recipe.name}'?",
                              QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel, self)
            box.setDetailedText(steps + ("\n\nnotes:\n" + "\n".join(batch.record.notes) if batch.record.notes else ""))
            if box.exec() != QMessageBox.StandardButton.Ok:
                return None
        memory.add_recent_file(self.settings, Path(path))
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
        self.notify(f"recipe {record.name} {record.state}", message, always=True)
        if error:
            self.show_error(f"recipe {record.name}", error)

    def _job_event(self, entry: JobEntry, ev: RunEvent) -> None:
        if ev.kind == "result" and ev.result is not None:
            self.show_result(ev.run_id, ev.result, self.titles.get(entry.request.task, entry.title))
        elif ev.kind == "log":
            self.append_log(f"[{entry.title}] {ev.message}")
        elif ev.kind == "state":
            self.append_log(f"[{entry.title}] {ev.state}" + (f": {ev.message}" if ev.message else ""))
            if ev.state == "running":
                self.statusBar().showMessage(f"started {entry.title}", 8000)

    def _job_finished(self, entry: JobEntry) -> None:
        if entry.record is not None:
            self.history.add_session_run(entry.record.id)
        if entry.state == "failed":
            self.show_error(f"{entry.title} failed", entry.error, entry.traceback)
        message = f"{entry.title} {entry.state} in {entry.elapsed():.1f} s"
        self.append_log(f"[{entry.title}] finished: {entry.state} in {entry.elapsed():.1f} s")
        self.notify(f"{entry.title} {entry.state}", message, always=entry.elapsed() >= self.long_job_s)

    def notify(self, title: str, message: str, always: bool = False) -> str:
        """Say ``message`` in the status bar; when ``always`` and the window is in the background, also as a
        desktop notification. Returns where it went: "status", "tray" or "alert" (taskbar, no tray)."""
        self.statusBar().showMessage(message, 15000)
        channel = "status" if not always or self.isActiveWindow() else self._desktop_notice(title, message)
        self.last_notice = (channel, title, message)
        return channel

    def _desktop_notice(self, title: str, message: str) -> str:
        from PySide6.QtWidgets import QStyle, QSystemTrayIcon

        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon), self)
                self._tray.setToolTip("Alignment Workbench")
            self._tray.show()
            self._tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 10000)
            return "tray"
        QApplication.alert(self)
        return "alert"

    def append_log(self, line: str) -> None:
        """A line in the Log dock and in ``gui.log`` in the log folder (Help > Open log folder)."""
        self.log.appendPlainText(line)
        if self._log_file is None:
            self._log_file = open(log_folder() / "gui.log", "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._log_file.write(f"{line}\n")
        self._log_file.flush()

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
            tab.link_siblings()
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

    def close_all_tabs(self) -> None:
        while self.tabs.count():
            self._close_tab(self.tabs.count() - 1)

    def _plugin_selected(self, name: str) -> None:
        info = self.host.plugins[name]
        tasks = ", ".join(info.tasks) or "no tasks"
        self.form.show_info(f"<b>{info.name}</b> {info.version} ({info.status})<br>{info.module}<br>{tasks}")
        if info.status == "failed":
            self.show_error(f"plugin {info.name} failed to load", info.error, info.traceback)

    def open_run(self, run_dir: Path, record: RunRecord | None = None) -> None:
        """Open a past run in its own tab; a run that is already open is brought to the front instead."""
        from workbench.core.runstore import RunStore

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
        memory.add_recent_file(self.settings, Path(run_dir))
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
        if (path / "run.json").is_file() or (path.suffix in (".yaml", ".yml") and path.is_file()):
            self.open_path(path)
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

    def _restore_layout(self) -> None:
        geometry, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self._sized_docks = self.restoreState(state)

    def confirm_quit(self) -> bool:
        """With jobs still running or queued, ask before quitting (quitting cancels them)."""
        running = self.jobs.running() if self._started else []
        if not running:
            return True
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Question, "Quit Alignment Workbench",
                          f"{len(running)} job(s) are still running or queued: {running[0].title}"
                          + (" …" if len(running) > 1 else "") + ". Quit and cancel them?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not self.confirm_quit():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        if self._started:
            self.jobs.cancel_all()
            self.jobs.wait(5000)
        self.machine.stop()
        if self._probe_installed:
            self._probe_installed = False
            devices.set_probe(None)
        if self._tray is not None:
            self._tray.hide()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        super().closeEvent(event)
