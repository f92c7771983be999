"""Worker subprocess entry: ``python -m workbench.core.worker RUN_DIR``.

Events go to the parent as JSON lines on the original stdout; anything the task prints goes to stderr
(kept in ``worker-stderr.txt``) so it cannot corrupt the event stream.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TextIO


def main(run_dir: str) -> int:
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    final = execute_prepared(Path(run_dir), events)
    events.flush()
    return 0 if final.state.value == "completed" else 1


def execute_prepared(run_dir: Path, events: TextIO):
    """Execute the prepared run in ``run_dir`` in this process, its events as JSON lines on ``events`` (the
    protocol :func:`workbench.core.runner.relay_line` reads back); shared by the worker and the Ray executor."""
    from workbench.core.plugins import get_host
    from workbench.core.runner import Job, RunEvent, execute_inproc
    from workbench.core.runstore import RunStore

    def emit(event: RunEvent) -> None:
        payload = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "result"}
        events.write(json.dumps(payload) + "\n")
        events.flush()

    record = RunStore.load(run_dir)
    spec = get_host().registry.runnable(f"{record.plugin}/{record.task}" if record.plugin else record.task)
    return execute_inproc(Job(run_dir=run_dir, record=record, spec=spec), emit)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
