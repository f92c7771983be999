"""Wall time of `workbench --help` and `workbench plugins` as ratios to `python -c pass` (median of runs).

Usage: python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    base = wall([py, "-c", "pass"], args.repeats)
    torch_import = wall([py, "-c", "import torch"], args.repeats)
    print(f"{'command':<34} {'median s':>9} {'x python -c pass':>17}")
    print(f"{'python -c pass':<34} {base:9.3f} {1.0:17.2f}")
    for label, cmd in (("workbench --help", [py, "-m", "workbench.cli", "--help"]),
                       ("workbench plugins", [py, "-m", "workbench.cli", "plugins"]),
                       ("workbench plugins --json", [py, "-m", "workbench.cli", "plugins", "--json"])):
        t = wall(cmd, args.repeats)
        print(f"{label:<34} {t:9.3f} {t / base:17.2f}")
    print(f"{'(reference) python -c import torch':<34} {torch_import:9.3f} {torch_import / base:17.2f}")


if __name__ == "__main__":
    main()
