"""Worker subprocess entry: ``python -m workbench.core.worker RUN_DIR``.

Events go to the parent as JSON lines on the original stdout; anything the task prints goes to stderr
(kept in ``worker-stderr.txt``) so it cannot corrupt the event stream. The worker records its own final state:
SIGTERM ends the run ``cancelled``, and when the parent dies (the event pipe breaks) the task is cancelled at
its next step and the record says why, so the run folder is right whoever reads it, from whichever host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

ORPHANED = "stopped: the process that started this worker went away (its event pipe closed)"


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def main(run_dir: str) -> int:
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGTERM, _terminate)
    try:
        final = execute_prepared(Path(run_dir), events)
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            events.close()
        os._exit(128 + signal.SIGTERM)  # the record is saved; a stopped worker skips the interpreter's slow teardown
    with contextlib.suppress(OSError):
        events.close()
    return 0 if final.state.value == "completed" else 1


def execute_prepared(run_dir: Path, events: TextIO):
    """Execute the prepared run in ``run_dir`` in this process, its events as JSON lines on ``events`` (the
    protocol :func:`workbench.core.runner.relay_line` reads back); shared by the worker and the Ray executor.
    When ``events`` breaks (the reader went away) the run is cancelled at its next step and says why."""
    from workbench.core.plugins import get_host
    from workbench.core.runner import Job, RunEvent, execute_inproc
    from workbench.core.runstore import RunStore

    record = RunStore.load(run_dir)
    spec = get_host().registry.runnable(f"{record.plugin}/{record.task}" if record.plugin else record.task)
    job = Job(run_dir=run_dir, record=record, spec=spec)
    orphaned = threading.Event()

    def emit(event: RunEvent) -> None:
        if orphaned.is_set():
            return
        payload = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "result"}
        try:
            events.write(json.dumps(payload) + "\n")
            events.flush()
        except BrokenPipeError:
            orphaned.set()
            job.cancel(ORPHANED)

    return execute_inproc(job, emit)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
