"""Jobs off the GUI thread: each request is prepared and executed by the core Runner in a QThreadPool
worker; RunEvents cross to the GUI thread through queued Qt signals. A recipe runs through the core batch engine
(the same as ``workbench batch``), one queue entry per step, and leaves its ``batch.json`` and report.

Tasks whose run executes in a worker subprocess survive crashes and stop at once on cancel; in-process
tasks stop at their next yield. A job cancelled while still queued never starts.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from workbench.core.batch import Batch, BatchEvent
from workbench.core.plugins import PluginHost
from workbench.core.runner import Job, RunEvent, Runner, RunRequest
from workbench.core.runstore import RunRecord, RunState, RunStore, RunStoreError

_KEYS = itertools.count(1)


@dataclass
class JobEntry:
    """The GUI's view of one job. ``job`` appears once the runner prepared it (run directory exists)."""

    key: int
    request: RunRequest
    title: str
    state: str = "queued"
    fraction: float | None = None
    message: str = ""
    job: Job | None = None
    record: RunRecord | None = None
    error: str = ""
    traceback: str = ""
    started: float | None = None
    ended: float | None = None
    done: bool = False
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    batch: Batch | None = None

    @property
    def finished(self) -> bool:
        """True once the worker thread has returned (the final state and all events have arrived)."""
        return self.done

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


class _Signals(QObject):
    prepared = Signal(int, object)
    event = Signal(int, object)
    done = Signal(int, object, str, str)
    step_started = Signal(int)
    step_done = Signal(int, object)
    batch_done = Signal(object, object, str)


class _JobRunnable(QRunnable):
    def __init__(self, runner: Runner, entry: JobEntry, signals: _Signals) -> None:
        super().__init__()
        self.runner, self.entry, self.signals = runner, entry, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        entry = self.entry
        if entry.cancel_requested.is_set():
            self.signals.done.emit(entry.key, None, "cancelled before it started", "")
            return
        try:
            job = self.runner.prepare(entry.request)
        except Exception as exc:  # bad placement or parameters: the job fails, the app lives
            self.signals.done.emit(entry.key, None, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        entry.job = job
        self.signals.prepared.emit(entry.key, job)
        if entry.cancel_requested.is_set():
            job.cancel()
        try:
            record = self.runner.execute(job, lambda ev: self.signals.event.emit(entry.key, ev))
        except Exception as exc:
            self.signals.done.emit(entry.key, None, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        self.signals.done.emit(entry.key, record, record.error, record.traceback)


class _BatchRunnable(QRunnable):
    """Runs a recipe through the core batch engine; each step's events go to that step's queue entry."""

    def __init__(self, batch: Batch, keys: dict[int, int], signals: _Signals) -> None:
        super().__init__()
        self.batch, self.keys, self.signals = batch, keys, signals
        self.setAutoDelete(True)

    def _on_event(self, event: BatchEvent) -> None:
        key = self.keys[event.index]
        if event.kind == "step-start":
            self.signals.step_started.emit(key)
        elif event.kind == "run" and event.run_event is not None:
            self.signals.event.emit(key, event.run_event)
        elif event.kind == "step-end":
            self.signals.step_done.emit(key, event.step.model_copy())

    def run(self) -> None:
        error = ""
        try:
            self.batch.run(self._on_event)
        except Exception as exc:  # a lock held by another batch, an unreadable recipe copy: reported, not fatal
            error = f"{type(exc).__name__}: {exc}"
        for step in self.batch.record.steps:
            if step.state in ("skipped", "pending"):
                self.signals.step_done.emit(self.keys[step.index], step.model_copy())
        if not error:
            try:
                self.batch.write_report()
            except Exception as exc:
                error = f"the report could not be written: {type(exc).__name__}: {exc}"
        self.signals.batch_done.emit(self.batch, self.batch.record, error)


class JobManager(QObject):
    """Submit, cancel and follow jobs. At most ``parallel`` jobs run at once; the rest wait queued."""

    added = Signal(object)
    changed = Signal(object)
    event = Signal(object, object)
    finished = Signal(object)
    batch_finished = Signal(object, object, str)

    def __init__(self, host: PluginHost, store: RunStore, parallel: int = 1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(store=store, host=host)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(parallel)
        self.entries: dict[int, JobEntry] = {}
        self._signals = _Signals()
        self._signals.prepared.connect(self._on_prepared)
        self._signals.event.connect(self._on_event)
        self._signals.done.connect(self._on_done)
        self._signals.step_started.connect(self._on_step_started)
        self._signals.step_done.connect(self._on_step_done)
        self._signals.batch_done.connect(self.batch_finished.emit)

    def submit(self, request: RunRequest, title: str = "") -> JobEntry:
        entry = JobEntry(key=next(_KEYS), request=request, title=title or request.task)
        self.entries[entry.key] = entry
        self.added.emit(entry)
        self.pool.start(_JobRunnable(self.runner, entry, self._signals))
        return entry

    def submit_batch(self, batch: Batch) -> list[JobEntry]:
        """Queue a recipe: one entry per step, run in order by the batch engine on a pool thread."""
        entries, keys = [], {}
        for step, request in zip(batch.record.steps, batch.steps):
            entry = JobEntry(key=next(_KEYS), request=request, batch=batch,
                             title=f"{batch.recipe.name} {step.index}/{len(batch.steps)}: {step.name}")
            self.entries[entry.key] = entry
            keys[step.index] = entry.key
            entries.append(entry)
            self.added.emit(entry)
        self.pool.start(_BatchRunnable(batch, keys, self._signals))
        return entries

    def cancel(self, key: int) -> None:
        entry = self.entries[key]
        if entry.finished:
            return
        entry.cancel_requested.set()
        if entry.batch is not None:
            entry.batch.cancel()
        elif entry.job is not None:
            entry.job.cancel()
        entry.message = "cancelling…"
        self.changed.emit(entry)

    def cancel_all(self) -> None:
        for key in list(self.entries):
            self.cancel(key)

    def running(self) -> list[JobEntry]:
        return [e for e in self.entries.values() if not e.finished]

    def wait(self, timeout_ms: int = 5000) -> bool:
        return self.pool.waitForDone(timeout_ms)

    def _on_prepared(self, key: int, job: Job) -> None:
        entry = self.entries[key]
        entry.record = job.record
        self.changed.emit(entry)

    def _on_event(self, key: int, ev: RunEvent) -> None:
        entry = self.entries[key]
        if ev.kind == "state":
            entry.state = ev.state
            if ev.state == RunState.RUNNING.value and entry.started is None:
                entry.started = time.monotonic()
            if ev.message:
                entry.message = ev.message
        elif ev.kind == "progress":
            entry.fraction, entry.message = ev.fraction, ev.message
        self.event.emit(entry, ev)
        self.changed.emit(entry)

    def _on_step_started(self, key: int) -> None:
        entry = self.entries[key]
        entry.state, entry.started = "running", time.monotonic()
        self.changed.emit(entry)

    def _on_step_done(self, key: int, step) -> None:
        record = None
        if step.run_dir:
            try:
                record = RunStore.load(step.run_dir)
            except RunStoreError:
                record = None
        if record is not None:
            self._on_done(key, record, step.error or record.error, record.traceback)
            return
        entry = self.entries[key]
        entry.done, entry.ended = True, time.monotonic()
        entry.started = entry.started or entry.ended
        entry.state = step.state
        entry.error = entry.message = step.error or "skipped: an earlier step failed or the batch was cancelled"
        self.changed.emit(entry)
        self.finished.emit(entry)

    def _on_done(self, key: int, record: RunRecord | None, error: str, tb: str) -> None:
        entry = self.entries[key]
        entry.done = True
        entry.ended = time.monotonic()
        if entry.started is None:
            entry.started = entry.ended
        if record is not None:
            entry.record = record
            entry.state = record.state.value
        else:
            entry.state = "cancelled" if entry.cancel_requested.is_set() and not tb else "failed"
        entry.error, entry.traceback = error, tb
        if entry.state == "completed":
            entry.fraction = 1.0
            entry.message = "completed"
        else:
            entry.message = error or entry.state
        self.changed.emit(entry)
        self.finished.emit(entry)
