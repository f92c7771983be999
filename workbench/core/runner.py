"""One runner for the CLI and the GUI: a task runs in this process or in a worker subprocess.

In-process, cancellation is cooperative (raised into the task at its next yield). In a worker, events
stream back as JSON lines and cancel stops the process (SIGTERM, SIGKILL after a short grace); a worker that
dies leaves the run ``failed``, never hanging.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import queue
import random
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core import assets, devices
from workbench.core.context import Cancelled, Progress, RunContext
from workbench.core.errors import ParamError
from workbench.core.params import (
    ParamsUpgradeWarning,
    format_validation_error,
    jsonable_params,
    params_revision,
    validate_params,
)
from workbench.core.plugins import PluginHost, get_host
from workbench.core.results import Result
from workbench.core.runstore import Heartbeat, RunRecord, RunState, RunStore, now
from workbench.core.specs import TaskSpec, resolve_entry

MAX_SEED = 2**31 - 1


class RunRequest(BaseModel):
    """What to run. The same shape is a recipe step and the re-runnable part of ``run.json``.

    ``task`` is a task id, or ``plugin/id`` where two plugins register the same id. ``params_revision`` is the
    revision of the task's parameter model the parameters were written for (None: unknown, as in a
    hand-written recipe); older parameters are upgraded with a note.
    """

    model_config = ConfigDict(extra="forbid")

    task: str
    params: dict[str, Any] = {}
    params_revision: int | None = None
    backend: str = "auto"
    device: str = "auto"
    seed: int = Field(0, ge=0, le=MAX_SEED)
    execution: Literal["auto", "inproc", "worker"] = "auto"
    recipe_step: str = ""
    sweep_group: str = ""
    sweep_values: dict[str, Any] = {}

    @classmethod
    def checked(cls, **fields: Any) -> RunRequest:
        """A request from user input (command line, run.json): a bad field is a :class:`ParamError` naming it."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise ParamError(format_validation_error(exc)) from None


@dataclass
class RunEvent:
    """Streamed to the caller: a state change, progress, a (partial or final) result, or a log line."""

    kind: Literal["state", "progress", "result", "log"]
    run_id: str
    state: str = ""
    fraction: float | None = None
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    result: Result | None = None


EventSink = Callable[[RunEvent], None]


@dataclass
class Job:
    """A prepared run. ``cancel()`` may be called from any thread; ``why`` is what the cancelled run's record
    says, written in the same save that ends the run (a reader never sees a placeholder reason)."""

    run_dir: Path
    record: RunRecord
    spec: TaskSpec
    cancel_event: threading.Event = field(default_factory=threading.Event)
    env: dict[str, str] = field(default_factory=dict)
    cancel_reason: str = "cancelled by the user"

    def cancel(self, why: str | None = None) -> None:
        if why is not None:
            self.cancel_reason = why
        self.cancel_event.set()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


class _EventLogHandler(logging.Handler):
    def __init__(self, run_id: str, emit: EventSink) -> None:
        super().__init__()
        self.run_id, self.emit_event = run_id, emit

    def emit(self, record: logging.LogRecord) -> None:
        self.emit_event(RunEvent("log", self.run_id, message=record.getMessage()))


def _run_logger(run_dir: Path, run_id: str, emit: EventSink) -> logging.Logger:
    logger = logging.getLogger(f"workbench.run.{run_id}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    _close_logger(logger)
    file_handler = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(file_handler)
    logger.addHandler(_EventLogHandler(run_id, emit))
    return logger


def _close_logger(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def _finish(run_dir: Path, record: RunRecord, state: RunState, t0: float, **updates: Any) -> None:
    record.state = state
    record.finished = now()
    record.duration_s = round(time.monotonic() - t0, 3)
    for key, value in updates.items():
        setattr(record, key, value)
    RunStore.save(run_dir, record)


def execute_inproc(job: Job, emit: EventSink) -> RunRecord:
    """Run ``job`` in this process; every exit path leaves ``run.json`` in a final state."""
    run_dir, record, spec = job.run_dir, job.record, job.spec
    logger = _run_logger(run_dir, record.id, emit)
    t0 = time.monotonic()
    record.state, record.started, record.pid = RunState.RUNNING, now(), os.getpid()
    RunStore.save(run_dir, record)
    emit(RunEvent("state", record.id, state=record.state.value))
    ctx = RunContext(run_dir=run_dir, seed=record.seed, engine=record.resolved_backend.partition("-")[0],
                     device=record.resolved_device, logger=logger, cancel_event=job.cancel_event)

    def keep(result: Result) -> None:
        result.save(run_dir / "results")
        if result.name not in record.results:
            record.results.append(result.name)
        RunStore.save(run_dir, record)
        emit(RunEvent("result", record.id, result=result, message=result.name))

    heartbeat = Heartbeat(run_dir).__enter__()
    try:
        fn = resolve_entry(spec.entry)
        params = spec.params.model_validate(record.params)
        seed_everything(record.seed)
        for note in record.notes:
            logger.warning(note)
        logger.info("running %s on %s (seed %d)", spec.id, ctx.backend, record.seed)
        outcome = fn(params, ctx)
        if inspect.isgenerator(outcome):
            outcome = _drive(outcome, job, emit, keep, record.id)
        for result in outcome or []:
            keep(result)
    except (Cancelled, KeyboardInterrupt) as exc:
        logger.info("cancelled")
        _finish(run_dir, record, RunState.CANCELLED, t0, partial=True, error=job.cancel_reason)
        emit(RunEvent("state", record.id, state=record.state.value))
        if isinstance(exc, KeyboardInterrupt):
            raise
    except Exception as exc:
        tb = traceback.format_exc()
        logger.error("failed: %s\n%s", exc, tb)
        _finish(run_dir, record, RunState.FAILED, t0, error=f"{type(exc).__name__}: {exc}", traceback=tb)
        emit(RunEvent("state", record.id, state=record.state.value, message=record.error))
    else:
        _finish(run_dir, record, RunState.COMPLETED, t0)
        logger.info("completed in %.2f s", record.duration_s)
        emit(RunEvent("state", record.id, state=record.state.value))
    finally:
        heartbeat.__exit__()
        _close_logger(logger)
    return record


def _drive(gen, job: Job, emit: EventSink, keep: Callable[[Result], None], run_id: str):
    """Iterate a task generator, relaying progress and results, raising Cancelled into it on cancel."""
    while True:
        try:
            item = gen.throw(Cancelled()) if job.cancel_event.is_set() else next(gen)
        except StopIteration as stop:
            return stop.value
        if isinstance(item, Progress):
            emit(RunEvent("progress", run_id, fraction=item.fraction, message=item.message,
                          metrics=dict(item.metrics)))
        elif isinstance(item, Result):
            keep(item)
        else:
            raise TypeError(f"task yielded {type(item).__name__}; expected Progress or a Result")


def execute_worker(job: Job, emit: EventSink) -> RunRecord:
    """Run ``job`` in a subprocess; cancel stops it; a death without a final state marks the run failed."""
    run_dir, record = job.run_dir, job.record
    t0 = time.monotonic()
    env = dict(os.environ, PYTHONUNBUFFERED="1", **job.env)
    with open(run_dir / "worker-stderr.txt", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "workbench.core.worker", str(run_dir)],
                                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env)
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    cancelled = False
    try:
        while True:
            if job.cancel_event.is_set() and proc.poll() is None:
                _stop_worker(proc)
                cancelled = True
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                continue
            if line is None:
                break
            relay_line(line, run_dir, record.id, emit)
    except KeyboardInterrupt:
        _stop_worker(proc)
        mark_dead(run_dir, RunState.CANCELLED, "cancelled by the user", t0, emit)
        raise
    code = proc.wait()
    if cancelled:
        return mark_dead(run_dir, RunState.CANCELLED, "cancelled by the user (worker ended)", t0, emit)
    final = RunStore.load(run_dir)
    if not final.state.finished or final.state == RunState.INTERRUPTED:
        stderr_tail = (run_dir / "worker-stderr.txt").read_text(errors="replace")[-2000:]
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return mark_dead(run_dir, RunState.FAILED, f"worker process died ({how})", t0, emit, stderr_tail)
    return final


def _stop_worker(proc: subprocess.Popen, grace_s: float = 2.0) -> None:
    """SIGTERM first, so the worker finishes the file it is writing and records its own state; SIGKILL if it
    has not ended within ``grace_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def relay_line(line: bytes | str, run_dir: Path, run_id: str, emit: EventSink) -> None:
    """One JSON event line of a run executed elsewhere (worker stdout, Ray events file) back into ``emit``."""
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        return
    if msg["kind"] == "result":
        msg["result"] = Result.load(run_dir / "results" / f"{msg['message']}.json")
    emit(RunEvent(**msg))


def mark_dead(run_dir: Path, state: RunState, error: str, t0: float, emit: EventSink, tb: str = "") -> RunRecord:
    record = RunStore.load(run_dir)
    _finish(run_dir, record, state, t0, error=error, traceback=tb, partial=bool(record.results))
    emit(RunEvent("state", record.id, state=state.value, message=error))
    return record


class Runner:
    """Prepares runs (validate, place, create the run directory) and executes them."""

    def __init__(self, store: RunStore | None = None, host: PluginHost | None = None) -> None:
        self.store = store or RunStore(assets.runs_dir())
        self.host = host or get_host()

    def prepare(self, request: RunRequest) -> Job:
        """Validate everything before anything is written: bad input never leaves a run directory behind."""
        spec = self.host.registry.runnable(request.task)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ParamsUpgradeWarning)
            params = validate_params(spec.params, request.params, where=f"{spec.id}: ",
                                     revision=request.params_revision)
        notes = [str(w.message) for w in caught if issubclass(w.category, ParamsUpgradeWarning)]
        placement = devices.resolve(spec, request.backend, request.device)
        execution = spec.execution if request.execution == "auto" else request.execution
        info = self.host.plugins.get(spec.plugin)
        run_dir, record = self.store.new_run({
            "task": spec.id, "plugin": spec.plugin, "plugin_version": info.version if info else "",
            "params": jsonable_params(params), "params_revision": params_revision(spec.params), "notes": notes,
            "backend": request.backend, "device": request.device,
            "resolved_backend": placement.backend, "resolved_device": placement.device, "seed": request.seed,
            "execution": execution, "versions": devices.package_versions(), "recipe_step": request.recipe_step,
            "sweep_group": request.sweep_group, "sweep_values": request.sweep_values,
        })
        return Job(run_dir=run_dir, record=record, spec=spec)

    def execute(self, job: Job, on_event: EventSink | None = None) -> RunRecord:
        """Run a prepared job. A Ctrl-C that lands before the task's own handling began (while the run is still
        queued or just started) also leaves the run ``cancelled``, then propagates."""
        emit = on_event or (lambda event: None)
        try:
            if job.record.execution == "worker":
                return execute_worker(job, emit)
            return execute_inproc(job, emit)
        except KeyboardInterrupt:
            if not RunStore.load(job.run_dir).state.finished:
                mark_dead(job.run_dir, RunState.CANCELLED, "cancelled by the user", time.monotonic(), emit)
            raise

    def run(self, request: RunRequest, on_event: EventSink | None = None) -> tuple[Job, RunRecord]:
        job = self.prepare(request)
        return job, self.execute(job, on_event)
