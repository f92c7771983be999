"""The ``ray`` batch executor's Ray side: each run is a Ray task on an existing cluster or a local runtime.

The driver prepares every run folder (validation, placement) exactly as the other executors do; the Ray task
executes the prepared folder in its worker process and writes the results there, so the batch folder must be on a
filesystem the cluster's nodes share. The task's events go as JSON lines to ``events.jsonl`` in the run folder
(the worker subprocess protocol), which the driver tails to relay progress. Ray is imported only here, and only
when this executor is chosen.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.core.errors import UserError
from workbench.core.runner import EventSink, relay_line
from workbench.core.runstore import RunRecord

EVENTS = "events.jsonl"


def _execute(run_dir: str, env: dict[str, str]) -> str:
    """Body of the Ray task: run the prepared folder here; the final state is also in its ``run.json``."""
    os.environ.update(env)
    from workbench.core.worker import execute_prepared

    with open(Path(run_dir) / EVENTS, "a", encoding="utf-8") as events:
        return execute_prepared(Path(run_dir), events).state.value


@contextlib.contextmanager
def session() -> Iterator[Any]:
    """Ray, connected: to ``RAY_ADDRESS`` when set, else to a local runtime started (and stopped) here. Ray's
    driver installs its own SIGTERM handler (exit 15) and may swap ``builtins.print``; both are put back, so a
    SIGTERM still ends the batch as the CLI defines it (runs cancelled, summary written, exit 143)."""
    try:
        import ray
    except ImportError as exc:
        raise UserError("--executor ray needs Ray: pip install 'alignment-workbench[ray]'") from exc
    started = not ray.is_initialized()
    printer = builtins.print
    on_term = signal.getsignal(signal.SIGTERM)
    if started:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if not os.environ.get("RAY_ADDRESS"):
            options["num_cpus"] = os.cpu_count() or 1
        ray.init(**options)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_term)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
        builtins.print = printer


def stop(ray: Any, refs: list[Any], grace_s: float = 2.0) -> None:
    """Cancel running tasks as the pool stops its workers: an interrupt first, so a task finishes the file it is
    writing and records its own end; then by force what is still running after ``grace_s``."""
    for ref in refs:
        ray.cancel(ref, force=False)
    _, left = ray.wait(refs, num_returns=len(refs), timeout=grace_s)
    for ref in left:
        ray.cancel(ref, force=True)


def capacity(ray: Any) -> int:
    """How many single-CPU runs the cluster can hold at once."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def submit(ray: Any, record: RunRecord, run_dir: Path) -> Any:
    """Start the run as a Ray task asking for one CPU, and one GPU when the run was placed on CUDA."""
    gpu = record.resolved_device.startswith("cuda") or record.backend in ("torch-cuda", "onnx-cuda")
    env = {} if gpu else {"OMP_NUM_THREADS": "1"}
    task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=0)(_execute)
    return task.remote(str(run_dir), env)


class EventTail:
    """Reads the complete lines a Ray task appended to its run's ``events.jsonl`` since the last call."""

    def __init__(self, run_dir: Path, run_id: str) -> None:
        self.run_dir, self.run_id, self.offset = run_dir, run_id, 0

    def relay(self, emit: EventSink) -> None:
        path = self.run_dir / EVENTS
        if not path.is_file():
            return
        with open(path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            relay_line(line, self.run_dir, self.run_id, emit)
