"""Side-by-side timing shared by the benchmark scripts: on a shared machine only ratios measured in one run mean
anything, so every path runs once per round, in turn, and each path's median over the rounds is kept.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable


def interleaved_medians(paths: dict[str, Callable[[], object]], repeats: int, *, warmup: int = 1,
                        sync: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Median seconds of each path; the paths alternate every round so load drift and warm-up hit all alike."""
    for _ in range(warmup):
        for fn in paths.values():
            fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def process_wall(cmd: list[str], env: dict[str, str] | None = None) -> Callable[[], None]:
    """A path that runs ``cmd`` to completion in a fresh process (its wall time includes interpreter start)."""
    return lambda: subprocess.run(cmd, check=True, capture_output=True, env=env)
