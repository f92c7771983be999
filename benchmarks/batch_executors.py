"""Wall time of one 16-run sweep on the local, pool and ray executors, and each executor's overhead per run against a
bare in-process call of the same task function, measured side by side in one run.

    python benchmarks/batch_executors.py [--runs 16] [--pool 2] [--no-ray]

The ray row runs on a local Ray runtime started for it (its start-up time is measured apart, not in the row).

The sweep is ``registration.register`` (SC2-PCR on synthetic matches) over outlier ratios and seeds: real work of
about a second per run, so both the parallel speed-up and the fixed cost of a worker subprocess show.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

RECIPE = """
name: executor-bench
steps:
  - name: ladder
    task: registration.register
    params: {{method: sc2pcr, n_points: 3000, n_matches: 400}}
    sweep:
      grid: {{outlier_ratio: [0.5, 0.8, 0.9, 0.95], seed: {seeds}}}
"""


def bare_calls(n: int) -> float:
    """The task function called directly, no run store, no runner: the floor."""
    from wb_registration.params import RegisterParams
    from workbench.core.context import RunContext
    from workbench.core.specs import resolve_entry

    fn = resolve_entry("wb_registration.task_register:run")
    ratios = [0.5, 0.8, 0.9, 0.95]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            params = RegisterParams(method="sc2pcr", n_points=3000, n_matches=400, outlier_ratio=ratios[i % 4])
            ctx = RunContext(run_dir=Path(tmp) / str(i), seed=i // 4, engine="torch", device="cpu",
                             logger=logging.getLogger("bench"))
            list(fn(params, ctx))
    return time.perf_counter() - t0


def batch_time(recipe: Path, folder: Path, executor: str) -> float:
    from workbench.core.batch import Batch

    t0 = time.perf_counter()
    record = Batch.from_file(recipe, folder, executor=executor).run()
    assert record.state == "completed", record.counts()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="a multiple of 4")
    parser.add_argument("--pool", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true", help="skip the ray executor row")
    args = parser.parse_args()
    seeds = list(range(args.runs // 4))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = tmp
        recipe = Path(tmp) / "bench.yaml"
        recipe.write_text(RECIPE.format(seeds=seeds))
        n = args.runs
        bare_calls(4)  # imports and first-call costs, paid by every path below in its own way
        times = {"bare in-process calls": bare_calls(n)}
        times["local executor"] = batch_time(recipe, Path(tmp) / "local", "local")
        times[f"pool:{args.pool} executor"] = batch_time(recipe, Path(tmp) / "pool", f"pool:{args.pool}")
        if not args.no_ray:
            import ray

            t0 = time.perf_counter()
            ray.init(num_cpus=args.pool, include_dashboard=False, log_to_driver=False, configure_logging=False)
            ray_start = time.perf_counter() - t0
            times[f"ray:{args.pool} executor"] = batch_time(recipe, Path(tmp) / "ray", f"ray:{args.pool}")
            ray.shutdown()
    bare = times["bare in-process calls"]
    print(f"{n} runs of registration.register (SC2-PCR, 3000 points, 400 matches), {os.cpu_count()} cores")
    print(f"{'path':<26} {'wall s':>8} {'vs bare':>8} {'overhead per run':>18}")
    for label, t in times.items():
        print(f"{label:<26} {t:8.2f} {t / bare:8.2f} {1000 * (t - bare) / n:15.0f} ms")
    local, pool = times["local executor"], times[f"pool:{args.pool} executor"]
    print(f"pool:{args.pool} vs local: {local / pool:.2f}x faster; a bare run takes {bare / n:.2f} s")
    if not args.no_ray:
        ray_t = times[f"ray:{args.pool} executor"]
        print(f"ray:{args.pool} vs local: {local / ray_t:.2f}x faster; ray vs pool:{args.pool}: {pool / ray_t:.2f}x; "
              f"local Ray runtime start-up {ray_start:.1f} s (not in the row)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
