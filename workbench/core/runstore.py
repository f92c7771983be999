"""The run store: one directory per run with ``run.json`` (written atomically), ``log.txt`` and ``results/``.

States go queued -> running -> completed | failed | cancelled. A run found ``running`` whose process is
gone is reported ``interrupted``: a run that died is never shown as still running.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from workbench import __version__
from workbench.core.atomic import atomic_write_text
from workbench.core.results import Result


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


class RunRecord(BaseModel):
    """Everything needed to understand and re-run a run. Stored as ``run.json``."""

    id: str
    task: str
    plugin: str = ""
    plugin_version: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
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

    def request(self) -> dict[str, Any]:
        """The part of the record that re-runs it (a recipe step)."""
        return {"task": self.task, "params": self.params, "backend": self.backend,
                "device": self.device, "seed": self.seed}


class RunStore:
    """A folder of run directories. Run ids sort by creation time."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def new_run(self, record_fields: dict[str, Any]) -> tuple[Path, RunRecord]:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{record_fields['task']}-{uuid.uuid4().hex[:6]}"
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
            record = RunRecord.model_validate(json.loads(path.read_text()))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: not a run directory (no run.json)") from None
        except (ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: unreadable run record: {exc}") from None
        if record.state == RunState.RUNNING and record.host == socket.gethostname() and not _alive(record.pid):
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
                except ValueError:
                    continue
        return runs


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
