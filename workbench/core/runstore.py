"""The run store: one directory per run with ``run.json`` (written atomically), ``log.txt`` and ``results/``.

States go queued -> running -> completed | failed | cancelled. A running run renews a lease (the mtime of its
``heartbeat`` file) every few seconds; a run found ``running`` whose lease expired, or whose process is gone on
this host, is reported ``interrupted``, so a run that died is never shown as still running, also when it is
read from another host or after its pid was reused.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from workbench import __version__
from workbench.core.atomic import atomic_write_text
from workbench.core.distributed import launched, rank
from workbench.core.errors import UserError
from workbench.core.results import Result


class RunStoreError(UserError):
    """A run folder that cannot be read: missing, corrupt, or written by a newer workbench."""


class RunState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self not in (RunState.QUEUED, RunState.RUNNING)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


RUN_SCHEMA = 1


class RunRecord(BaseModel):
    """Everything needed to understand and re-run a run. Stored as ``run.json`` with its schema version;
    ``params_revision`` is the revision of the task's parameter model the parameters were written for."""

    schema_version: int = RUN_SCHEMA
    id: str
    task: str
    plugin: str = ""
    plugin_version: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    params_revision: int | None = None
    notes: list[str] = Field(default_factory=list)
    backend: str = "auto"
    device: str = "auto"
    resolved_backend: str = ""
    resolved_device: str = ""
    seed: int = 0
    execution: str = "inproc"
    state: RunState = RunState.QUEUED
    created: str = Field(default_factory=now)
    started: str = ""
    finished: str = ""
    duration_s: float = 0.0
    error: str = ""
    traceback: str = ""
    results: list[str] = Field(default_factory=list)
    partial: bool = False
    pid: int = 0
    host: str = Field(default_factory=socket.gethostname)
    workbench_version: str = __version__
    versions: dict[str, str] = Field(default_factory=dict)
    recipe_step: str = ""
    sweep_group: str = ""
    sweep_values: dict[str, Any] = Field(default_factory=dict)

    def request(self) -> dict[str, Any]:
        """The part of the record that re-runs it (a recipe step)."""
        return {"task": self.task, "params": self.params, "params_revision": self.params_revision,
                "backend": self.backend, "device": self.device, "seed": self.seed}


class RunStore:
    """A folder of run directories. Run ids sort by creation time."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def new_run(self, record_fields: dict[str, Any]) -> tuple[Path, RunRecord]:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{record_fields['task']}-{uuid.uuid4().hex[:6]}"
        if launched():
            run_id += f"-rank{rank()}"
        run_dir = self.root / run_id
        (run_dir / "results").mkdir(parents=True)
        record = RunRecord(id=run_id, **record_fields)
        self.save(run_dir, record)
        return run_dir, record

    @staticmethod
    def save(run_dir: Path, record: RunRecord) -> None:
        atomic_write_text(Path(run_dir) / "run.json", record.model_dump_json(indent=1))

    @staticmethod
    def load(run_dir: Path) -> RunRecord:
        path = Path(run_dir) / "run.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunStoreError(f"{path}: not a run directory (no run.json)") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise RunStoreError(f"{path}: unreadable run record ({type(exc).__name__}: {exc})") from None
        if isinstance(doc, dict) and int(doc.get("schema_version", 0) or 0) > RUN_SCHEMA:
            raise RunStoreError(f"{path}: run record schema {doc['schema_version']} is newer than this workbench "
                                f"reads ({RUN_SCHEMA}); upgrade the workbench")
        try:
            record = RunRecord.model_validate(doc)
        except ValueError as exc:
            raise RunStoreError(f"{path}: unreadable run record: {exc}") from None
        if record.state == RunState.RUNNING and _lapsed(Path(run_dir), record):
            record.state = RunState.INTERRUPTED
        return record

    @staticmethod
    def results(run_dir: Path) -> list[Result]:
        """The run's results in the order the task produced them."""
        record = RunStore.load(run_dir)
        folder = Path(run_dir) / "results"
        return [Result.load(folder / f"{name}.json") for name in record.results if (folder / f"{name}.json").exists()]

    def list(self) -> list[tuple[Path, RunRecord]]:
        """All readable runs, newest first; unreadable folders are skipped."""
        if not self.root.is_dir():
            return []
        runs = []
        for run_dir in sorted(self.root.iterdir(), reverse=True):
            if (run_dir / "run.json").is_file():
                try:
                    runs.append((run_dir, self.load(run_dir)))
                except RunStoreError:
                    continue
        return runs


HEARTBEAT = "heartbeat"
HEARTBEAT_S = 5.0
LEASE_S = 30.0


def _lapsed(run_dir: Path, record: RunRecord) -> bool:
    """A running run is gone: its process died on this host, or its heartbeat stopped longer than the lease."""
    if record.host == socket.gethostname() and not _alive(record.pid):
        return True
    try:
        age = time.time() - (run_dir / HEARTBEAT).stat().st_mtime
    except FileNotFoundError:
        return False
    return age > LEASE_S


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (an unreaped dead child counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Heartbeat:
    """Renews a running run's lease from a daemon thread until stopped."""

    def __init__(self, run_dir: Path, interval: float = HEARTBEAT_S) -> None:
        self.path = Path(run_dir) / HEARTBEAT
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.path.touch()
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.path.touch()
            except OSError:
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
