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


def main(run_dir: str) -> int:
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    from workbench.core.plugins import get_host
    from workbench.core.runner import Job, RunEvent, execute_inproc
    from workbench.core.runstore import RunStore

    def emit(event: RunEvent) -> None:
        payload = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "result"}
        events.write(json.dumps(payload) + "\n")

    path = Path(run_dir)
    record = RunStore.load(path)
    spec = get_host().registry.runnable(f"{record.plugin}/{record.task}" if record.plugin else record.task)
    final = execute_inproc(Job(run_dir=path, record=record, spec=spec), emit)
    events.flush()
    return 0 if final.state.value == "completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
