"""The batch engine, shared by ``workbench batch``/``demo`` and the GUI's File > Open recipe.

A batch folder holds the recipe (``recipe.yaml``), one run folder per step under ``runs/``, the summary
``batch.json`` (rewritten atomically after every step, so an interrupted batch still says what finished) and the
report. A lock file refuses a second batch into the same folder while the first is alive, naming its holder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from workbench.core import assets
from workbench.core.atomic import atomic_write_text
from workbench.core.errors import UserError
from workbench.core.recipes import Recipe, load_recipe, shard
from workbench.core.runner import EventSink, RunEvent, Runner, RunRequest
from workbench.core.runstore import RunStore, _alive, now

BATCH_SCHEMA = 1
LOCK = "batch.lock"


class BatchLockedError(UserError):
    """Another live batch writes into this folder."""


class StepRecord(BaseModel):
    """One step of a batch as ``batch.json`` records it."""

    index: int
    name: str
    task: str
    state: str = "pending"
    run_dir: str = ""
    duration_s: float = 0.0
    error: str = ""


class BatchRecord(BaseModel):
    """``batch.json``: the recipe, where it ran, and every step's outcome."""

    schema_version: int = BATCH_SCHEMA
    name: str
    recipe: str
    folder: str
    state: str = "running"
    started: str = Field(default_factory=now)
    finished: str = ""
    shard: str = ""
    keep_going: bool = False
    host: str = Field(default_factory=socket.gethostname)
    pid: int = Field(default_factory=os.getpid)
    steps: list[StepRecord] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    report: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.state] = out.get(step.state, 0) + 1
        return out


@dataclass
class BatchEvent:
    """A step started or ended (``kind``: ``step-start``/``step-end``), or a run event of the current step."""

    kind: str
    index: int
    total: int
    step: StepRecord
    run_event: RunEvent | None = None


BatchSink = Callable[[BatchEvent], None]


@dataclass
class BatchLock:
    """``batch.lock`` with the holder's host, pid and start time; stale locks (dead pid, same host) are taken."""

    path: Path
    held: bool = field(default=False, init=False)

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and (holder.get("host") != socket.gethostname() or _alive(int(holder.get("pid", 0)))):
                    raise BatchLockedError(
                        f"{self.path.parent}: another batch is writing here (pid {holder.get('pid')} on "
                        f"{holder.get('host')}, since {holder.get('since')}); wait for it or use another --out"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": now()}, fh)
            self.held = True
            return
        raise BatchLockedError(f"{self.path}: cannot take the batch lock")

    def _holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def default_folder(recipe_name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return assets.home() / "batches" / f"{stamp}-{recipe_name}"


class Batch:
    """One execution of a recipe into a folder. :meth:`run` returns the :class:`BatchRecord` it wrote."""

    def __init__(self, recipe: Recipe, recipe_path: Path, folder: Path | None = None, *, keep_going: bool = False,
                 shard_spec: str | None = None, runner_factory: Callable[[RunStore], Runner] | None = None) -> None:
        self.recipe = recipe
        self.recipe_path = Path(recipe_path)
        self.folder = Path(folder) if folder else default_folder(recipe.name)
        self.keep_going = keep_going
        self.steps: list[RunRequest] = shard(recipe.steps, shard_spec) if shard_spec else list(recipe.steps)
        self.record = BatchRecord(name=recipe.name, recipe=str(self.recipe_path), folder=str(self.folder),
                                  shard=shard_spec or "", keep_going=keep_going, notes=list(recipe.notes),
                                  steps=[StepRecord(index=i, name=r.recipe_step or r.task, task=r.task)
                                         for i, r in enumerate(self.steps, start=1)])
        self._runner_factory = runner_factory or (lambda store: Runner(store=store))
        self._current = None
        self._cancelled = False

    @classmethod
    def from_file(cls, recipe_ref: str | Path, folder: Path | None = None, **options: Any) -> Batch:
        from workbench.core.catalog import find_recipe
        from workbench.core.plugins import get_host

        path = find_recipe(recipe_ref)
        return cls(load_recipe(path, get_host().registry), path, folder, **options)

    @property
    def json_path(self) -> Path:
        return self.folder / "batch.json"

    def save(self) -> None:
        atomic_write_text(self.json_path, self.record.model_dump_json(indent=1))

    def cancel(self) -> None:
        """Cancel the running step (from any thread); the remaining steps are skipped."""
        self._cancelled = True
        if self._current is not None:
            self._current.cancel()

    def run(self, on_event: BatchSink | None = None, on_run_event: Callable[[StepRecord], EventSink] | None = None,
            ) -> BatchRecord:
        """Run every step; ``KeyboardInterrupt`` ends the batch ``interrupted`` with its summary written, then
        propagates. ``on_run_event(step)`` may give a per-step sink for the run's own events."""
        emit = on_event or (lambda event: None)
        lock = BatchLock(self.folder / LOCK)
        lock.acquire()
        self._cancelled = False
        try:
            shutil.copyfile(self.recipe_path, self.folder / "recipe.yaml")
            self.save()
            runner = self._runner_factory(RunStore(self.folder / "runs"))
            failed = False
            total = len(self.steps)
            for request, step in zip(self.steps, self.record.steps):
                if (failed and not self.keep_going) or self._cancelled:
                    step.state = "skipped"
                    continue
                emit(BatchEvent("step-start", step.index, total, step))
                self._run_step(runner, request, step, emit, on_run_event, total)
                failed = failed or step.state != "completed"
                self.save()
                emit(BatchEvent("step-end", step.index, total, step))
            self.record.state = "cancelled" if self._cancelled else "failed" if failed else "completed"
        except KeyboardInterrupt:
            for step in self.record.steps:
                if step.state in ("pending", "running"):
                    step.state = "cancelled" if step.state == "running" else "skipped"
            self.record.state = "interrupted"
            raise
        finally:
            self.record.finished = now()
            self.save()
            lock.release()
        return self.record

    def _run_step(self, runner: Runner, request: RunRequest, step: StepRecord, emit: BatchSink,
                  on_run_event, total: int) -> None:
        t0 = time.monotonic()
        step.state = "running"
        try:
            job = runner.prepare(request)
        except Exception as exc:
            step.state, step.error = "failed", str(exc)
            return
        self._current = job
        step.run_dir = str(job.run_dir)
        self.save()
        sink = on_run_event(step) if on_run_event else None

        def relay(event: RunEvent) -> None:
            if sink is not None:
                sink(event)
            emit(BatchEvent("run", step.index, total, step, event))

        try:
            record = runner.execute(job, relay)
        except KeyboardInterrupt:
            step.state, step.error = "cancelled", "interrupted by the user"
            step.duration_s = round(time.monotonic() - t0, 3)
            raise
        finally:
            self._current = None
        step.state, step.error, step.duration_s = record.state.value, record.error, record.duration_s

    def run_dirs(self) -> list[Path]:
        return [Path(s.run_dir) for s in self.record.steps if s.run_dir and Path(s.run_dir, "run.json").is_file()]

    def write_report(self, title: str | None = None) -> Path | None:
        """The HTML report of every step that produced a run folder (finished, failed or cancelled)."""
        run_dirs = self.run_dirs()
        if not run_dirs:
            return None
        from workbench.render.report import build_report

        index = build_report(run_dirs, self.folder / "report", title=title or f"Batch: {self.recipe.name}")
        self.record.report = str(index)
        self.save()
        return index
