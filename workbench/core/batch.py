"""The batch engine, shared by ``workbench batch``/``demo`` and the GUI's File > Open recipe.

A batch folder holds the recipe (``recipe.yaml``), one run folder per step under ``runs/``, the summary
``batch.json`` (rewritten atomically after every step, so an interrupted batch still says what finished) and the
report. A lock file refuses a second batch into the same folder while the first is alive, naming its holder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import queue
import shutil
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from workbench.core import assets
from workbench.core.atomic import atomic_write_text
from workbench.core.errors import UserError
from workbench.core.params import format_validation_error, jsonable_params, validate_params
from workbench.core.recipes import Recipe, load_recipe, shard
from workbench.core.runner import EventSink, Job, RunEvent, Runner, RunRequest, mark_dead
from workbench.core.runstore import RunRecord, RunState, RunStore, _alive, now

BATCH_SCHEMA = 1
LOCK = "batch.lock"


class BatchLockedError(UserError):
    """Another live batch writes into this folder."""


class StepRecord(BaseModel):
    """One run of a batch as ``batch.json`` records it (a sweep step gives one per combination)."""

    index: int
    name: str
    task: str
    key: str = ""
    state: str = "pending"
    run_dir: str = ""
    duration_s: float = 0.0
    error: str = ""
    reused: bool = False
    sweep_group: str = ""
    sweep_values: dict[str, Any] = Field(default_factory=dict)


class BatchRecord(BaseModel):
    """``batch.json``: the recipe, where and how it ran, and every run's outcome."""

    schema_version: int = BATCH_SCHEMA
    name: str
    recipe: str
    folder: str
    state: str = "running"
    started: str = Field(default_factory=now)
    finished: str = ""
    shard: str = ""
    executor: str = "local"
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


def read_batch_record(folder: Path) -> BatchRecord:
    """``batch.json`` of a batch folder. A batch left ``running`` by a process that died on this host reads
    ``interrupted``; a damaged file is an error naming it."""
    path = Path(folder) / "batch.json"
    try:
        record = BatchRecord.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        problem = format_validation_error(exc) if exc.error_count() and exc.errors()[0]["type"] != "json_invalid" \
            else str(exc.errors()[0]["msg"])
        raise UserError(f"{path}: unreadable batch summary ({problem})") from None
    except OSError as exc:
        raise UserError(f"{path}: unreadable batch summary ({type(exc).__name__}: {exc})") from None
    if record.state == "running" and record.host == socket.gethostname() and not _alive(record.pid):
        record.state = "interrupted"
    return record


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


def run_key(request: RunRequest, registry) -> str:
    """What makes two runs the same run: task, validated parameters, backend, device, seed, and the size and
    modification time of every parameter that names an existing file (so a changed input is a new run)."""
    spec = registry.runnable(request.task)
    params = jsonable_params(validate_params(spec.params, request.params, revision=request.params_revision))
    inputs = {}
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item and Path(item).expanduser().is_file():
                stat = Path(item).expanduser().stat()
                inputs[f"{key}:{item}"] = [stat.st_size, stat.st_mtime_ns]
    doc = {"task": spec.qualified_id, "params": params, "backend": request.backend, "device": request.device,
           "seed": request.seed, "inputs": inputs}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def parse_executor(spec: str) -> tuple[str, int]:
    """``local``, ``pool:N`` (N worker subprocesses, one GPU each when there are GPUs), ``ray`` or ``ray:N`` (Ray
    tasks, at most N at once; without N as many as the cluster has CPUs)."""
    if spec == "local":
        return "local", 1
    if spec == "ray":
        return "ray", 0
    kind, _, count = spec.partition(":")
    if kind in ("pool", "ray") and count.isdigit() and int(count) >= 1:
        return kind, int(count)
    raise UserError(f"--executor {spec!r}: use local, pool:N, ray or ray:N (N >= 1)")


def _ray_outcome(ray: Any, ref: Any, job: Job, relay: EventSink, t0: float) -> RunRecord:
    """The finished Ray task's run record; a task that died or was cancelled before recording its end is marked
    here, with the reason."""
    try:
        ray.get(ref)
    except Exception as exc:
        record = RunStore.load(job.run_dir)
        if not record.state.finished or record.state == RunState.INTERRUPTED:
            if job.cancel_event.is_set():
                return mark_dead(job.run_dir, RunState.CANCELLED, "cancelled by the user", t0, relay)
            return mark_dead(job.run_dir, RunState.FAILED, f"Ray task died: {type(exc).__name__}: {exc}"[:2000],
                             t0, relay)
    return RunStore.load(job.run_dir)


class Batch:
    """One execution of a recipe into a folder. :meth:`run` returns the :class:`BatchRecord` it wrote.

    Running a batch again into the same folder resumes it: runs that completed before (same key) are kept and
    reported as reused, failed and interrupted ones run again; ``force`` runs everything again.
    """

    def __init__(self, recipe: Recipe, recipe_path: Path, folder: Path | None = None, *, keep_going: bool = False,
                 shard_spec: str | None = None, executor: str = "local", force: bool = False,
                 runner_factory: Callable[[RunStore], Runner] | None = None) -> None:
        self.recipe = recipe
        self.recipe_path = Path(recipe_path)
        self.folder = Path(folder) if folder else default_folder(recipe.name)
        self.keep_going = keep_going
        self.force = force
        self.executor, self.slots = parse_executor(executor)
        self.steps: list[RunRequest] = shard(recipe.steps, shard_spec) if shard_spec else list(recipe.steps)
        self.record = BatchRecord(name=recipe.name, recipe=str(self.recipe_path), folder=str(self.folder),
                                  shard=shard_spec or "", executor=executor, keep_going=keep_going,
                                  notes=list(recipe.notes),
                                  steps=[StepRecord(index=i, name=r.recipe_step or r.task, task=r.task,
                                                    sweep_group=r.sweep_group, sweep_values=r.sweep_values)
                                         for i, r in enumerate(self.steps, start=1)])
        self._runner_factory = runner_factory or (lambda store: Runner(store=store))
        self._jobs: dict[int, Any] = {}
        self._cancelled = False
        self._lock = threading.Lock()

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
        with self._lock:
            text = self.record.model_dump_json(indent=1)
        atomic_write_text(self.json_path, text)

    def cancel(self) -> None:
        """Cancel the running steps (from any thread); the remaining steps are skipped."""
        self._cancelled = True
        for job in list(self._jobs.values()):
            job.cancel()

    def _previous(self) -> dict[str, StepRecord]:
        """Completed runs of an earlier invocation into this folder, by key."""
        if self.force or not self.json_path.is_file():
            return {}
        try:
            old = read_batch_record(self.folder)
        except UserError as exc:
            self.record.notes.append(f"{exc}; its runs are not reused")
            return {}
        return {s.key: s for s in old.steps if s.key and s.state == "completed" and s.run_dir
                and (Path(s.run_dir) / "run.json").is_file()}

    def run(self, on_event: BatchSink | None = None, on_run_event: Callable[[StepRecord], EventSink] | None = None,
            ) -> BatchRecord:
        """Run every step; ``KeyboardInterrupt`` ends the batch ``interrupted`` with its summary written, then
        propagates. ``on_run_event(step)`` may give a per-step sink for the run's own events."""
        from workbench.core.plugins import get_host

        emit = on_event or (lambda event: None)
        lock = BatchLock(self.folder / LOCK)
        lock.acquire()
        self._cancelled = False
        try:
            done = self._previous()
            shutil.copyfile(self.recipe_path, self.folder / "recipe.yaml")
            runner = self._runner_factory(RunStore(self.folder / "runs"))
            registry = get_host().registry
            todo = []
            for request, step in zip(self.steps, self.record.steps):
                try:
                    step.key = run_key(request, registry)
                except UserError:
                    step.key = ""
                if step.key in done:
                    old = done[step.key]
                    step.state, step.run_dir, step.duration_s, step.reused = "completed", old.run_dir, \
                        old.duration_s, True
                else:
                    todo.append((request, step))
            reused = len(self.steps) - len(todo)
            if reused:
                self.record.notes.append(f"resumed: {reused} completed run(s) kept from the previous invocation")
            self.save()
            if self.executor == "pool":
                self._run_pool(runner, todo, emit, on_run_event)
            elif self.executor == "ray":
                self._run_ray(runner, todo, emit, on_run_event)
            else:
                self._run_local(runner, todo, emit, on_run_event)
            failed = any(s.state not in ("completed",) for s in self.record.steps)
            self.record.state = "cancelled" if self._cancelled else "failed" if failed else "completed"
        except KeyboardInterrupt:
            self.cancel()
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

    def _run_local(self, runner: Runner, todo, emit: BatchSink, on_run_event) -> None:
        failed = False
        for request, step in todo:
            if (failed and not self.keep_going) or self._cancelled:
                step.state = "skipped"
                continue
            emit(BatchEvent("step-start", step.index, len(self.steps), step))
            self._run_step(runner, request, step, emit, on_run_event)
            failed = failed or step.state != "completed"
            self.save()
            emit(BatchEvent("step-end", step.index, len(self.steps), step))

    def _run_pool(self, runner: Runner, todo, emit: BatchSink, on_run_event) -> None:
        """Up to ``slots`` runs at once, each in a worker subprocess; one GPU per slot when GPUs are present."""
        from workbench.core.devices import torch_cuda_devices

        gpus = len(torch_cuda_devices())
        slots = min(self.slots, gpus) if gpus else min(self.slots, os.cpu_count() or 1)
        free: queue.Queue[int] = queue.Queue()
        for slot in range(slots):
            free.put(slot)
        failed = threading.Event()

        def one(request: RunRequest, step: StepRecord) -> None:
            slot = free.get()
            try:
                if (failed.is_set() and not self.keep_going) or self._cancelled:
                    step.state = "skipped"
                    return
                env = {"CUDA_VISIBLE_DEVICES": str(slot)} if gpus else {"OMP_NUM_THREADS": "1"}
                emit(BatchEvent("step-start", step.index, len(self.steps), step))
                self._run_step(runner, request.model_copy(update={"execution": "worker"}), step, emit,
                               on_run_event, env)
                if step.state != "completed":
                    failed.set()
                self.save()
                emit(BatchEvent("step-end", step.index, len(self.steps), step))
            finally:
                free.put(slot)

        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="batch-pool") as pool:
            futures = [pool.submit(one, request, step) for request, step in todo]
            for future in futures:
                future.result()

    def _run_ray(self, runner: Runner, todo, emit: BatchSink, on_run_event) -> None:
        """Each run a Ray task (at most ``slots`` at once, or the cluster's CPUs); the driver prepares the run
        folders, tails their events and records the outcome, as for the other executors."""
        from workbench.core import ray_executor

        with ray_executor.session() as ray:
            limit = self.slots or ray_executor.capacity(ray)
            waiting = list(todo)
            flying: dict[Any, tuple[StepRecord, Job, EventSink, ray_executor.EventTail, float]] = {}
            failed = False
            try:
                while waiting or flying:
                    while waiting and len(flying) < limit:
                        request, step = waiting.pop(0)
                        if (failed and not self.keep_going) or self._cancelled:
                            step.state = "skipped"
                            continue
                        emit(BatchEvent("step-start", step.index, len(self.steps), step))
                        begun = self._begin_step(runner, request, step, emit, on_run_event)
                        if begun is None:
                            failed = True
                            self.save()
                            emit(BatchEvent("step-end", step.index, len(self.steps), step))
                            continue
                        job, relay = begun
                        job.record.execution = "ray"
                        RunStore.save(job.run_dir, job.record)
                        ref = ray_executor.submit(ray, job.record, job.run_dir)
                        flying[ref] = (step, job, relay, ray_executor.EventTail(job.run_dir, job.record.id),
                                       time.monotonic())
                    done, _ = ray.wait(list(flying), num_returns=1, timeout=0.2)
                    for ref, (_step, job, relay, tail, _t0) in flying.items():
                        tail.relay(relay)
                        if job.cancel_event.is_set() and ref not in done:
                            ray.cancel(ref, force=False)
                    for ref in done:
                        step, job, relay, tail, t0 = flying.pop(ref)
                        tail.relay(relay)
                        record = _ray_outcome(ray, ref, job, relay, t0)
                        self._jobs.pop(step.index, None)
                        step.state, step.error, step.duration_s = record.state.value, record.error, \
                            record.duration_s
                        failed = failed or step.state != "completed"
                        self.save()
                        emit(BatchEvent("step-end", step.index, len(self.steps), step))
            except KeyboardInterrupt:
                ray_executor.stop(ray, list(flying))
                for step, job, relay, _tail, t0 in flying.values():
                    if not RunStore.load(job.run_dir).state.finished:
                        mark_dead(job.run_dir, RunState.CANCELLED, "cancelled by the user", t0, relay)
                    step.state, step.error = "cancelled", "interrupted by the user"
                raise

    def _begin_step(self, runner: Runner, request: RunRequest, step: StepRecord, emit: BatchSink,
                    on_run_event, env: dict[str, str] | None = None) -> tuple[Job, EventSink] | None:
        """Prepare the step's run folder; ``None`` (the step failed) when the request does not validate."""
        step.state = "running"
        try:
            job = runner.prepare(request)
        except Exception as exc:
            step.state, step.error = "failed", str(exc)
            return None
        job.env.update(env or {})
        self._jobs[step.index] = job
        step.run_dir = str(job.run_dir)
        self.save()
        sink = on_run_event(step) if on_run_event else None
        total = len(self.steps)

        def relay(event: RunEvent) -> None:
            if sink is not None:
                sink(event)
            emit(BatchEvent("run", step.index, total, step, event))

        return job, relay

    def _run_step(self, runner: Runner, request: RunRequest, step: StepRecord, emit: BatchSink,
                  on_run_event, env: dict[str, str] | None = None) -> None:
        begun = self._begin_step(runner, request, step, emit, on_run_event, env)
        if begun is None:
            return
        job, relay = begun
        t0 = time.monotonic()
        try:
            record = runner.execute(job, relay)
        except KeyboardInterrupt:
            step.state, step.error = "cancelled", "interrupted by the user"
            step.duration_s = round(time.monotonic() - t0, 3)
            raise
        finally:
            self._jobs.pop(step.index, None)
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
