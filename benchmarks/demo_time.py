"""Wall time of `workbench demo` (the shipped demo recipe and its report), with each step's share.

Usage: python benchmarks/demo_time.py

The figure is absolute seconds (the README states it), so it is printed with the machine's load average;
each step's duration comes from the batch's own ``batch.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(quick: bool = False) -> dict[str, float]:
    """One run of ``workbench demo`` in a fresh process: its wall time and each step's recorded duration."""
    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "workbench.cli", "demo", "--out", tmp], check=True,
                       capture_output=True, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
        wall = time.perf_counter() - t0
        batch = json.loads(next(Path(tmp).rglob("batch.json")).read_text())
    steps = {f"step {s['name']} s": s["duration_s"] for s in batch["steps"]}
    return {"demo s": wall, "load average at start": load, **steps}


def main() -> None:
    m = measure()
    print(f"workbench demo: {m['demo s']:.1f} s wall (1-min load average at start {m['load average at start']:.1f})")
    for key, seconds in m.items():
        if key.startswith("step "):
            print(f"  {seconds:7.1f} s  {key[5:-2]}")


if __name__ == "__main__":
    main()
