"""Wall time of `workbench --help` and `workbench plugins` as ratios to `python -c pass` (interleaved medians).

`workbench plugins` answers from its manifest cache after the first (warm-up) call; `--no-cache` loads every
plugin's manifest as a first call after a change does.

Usage: python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import sys

from timing import interleaved_medians, process_wall


def measure(quick: bool = False, repeats: int | None = None) -> dict[str, float]:
    """Median seconds of each command, each round running every command once in turn."""
    py = sys.executable
    commands = {"python -c pass": [py, "-c", "pass"],
                "workbench --help": [py, "-m", "workbench.cli", "--help"],
                "workbench plugins": [py, "-m", "workbench.cli", "plugins"],
                "workbench plugins --json": [py, "-m", "workbench.cli", "plugins", "--json"],
                "workbench plugins --no-cache": [py, "-m", "workbench.cli", "plugins", "--no-cache"]}
    if not quick:
        commands["(reference) python -c import torch"] = [py, "-c", "import torch"]
    seconds = interleaved_medians({k: process_wall(c) for k, c in commands.items()}, repeats or (5 if quick else 9))
    base = seconds["python -c pass"]
    return {**{f"{k} s": v for k, v in seconds.items()},
            "plugins / python -c pass": seconds["workbench plugins"] / base,
            "plugins uncached / python -c pass": seconds["workbench plugins --no-cache"] / base}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    result = measure(repeats=args.repeats)
    base = result["python -c pass s"]
    print(f"{'command':<34} {'median s':>9} {'x python -c pass':>17}")
    for key, t in result.items():
        if key.endswith(" s"):
            print(f"{key[:-2]:<34} {t:9.3f} {t / base:17.2f}")


if __name__ == "__main__":
    main()
