"""Time per pair of each registration estimator vs Open3D RANSAC on the same synthetic matches.

    python benchmarks/registration_time.py [--pairs 5] [--matches 1000] [--ratios 0.5 0.9 0.99] [--threads 1]
    python benchmarks/registration_time.py --profile vbreg [--pairs 3] [--ratios 0.99]

Prints one row per (outlier ratio, estimator): median seconds per pair, the ratio to RANSAC's time on the same
matches, and the success rate (RE < 5 deg, TE < 0.05). VBReg uses the zoo model on torch-cpu; ``vbreg-seeds``
is VBReg with SC2-PCR's seed count (``SC2PCR_SEEDING``) instead of the reference's "every match a seed".
Every estimator gets the same threads: torch's and Open3D's (TBB) pools are both set to ``--threads`` (numpy's
BLAS follows ``OMP_NUM_THREADS``). Every estimator runs once on a warm-up pair first, so thread pools and lazy
initialisation are not timed. ``--profile NAME`` instead prints where one estimator's time goes (cProfile, the
functions with the most own time) on the same pairs, next to RANSAC's time per pair.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time

import numpy as np
import open3d as o3d
import torch

from wb_registration.estimators import estimate, load_vbreg
from wb_registration.metrics import pose_metrics
from wb_registration.params import SC2PCR_SEEDING, EstimatorFields
from wb_registration.synthetic import make_pair

#: estimator name -> (method, settings that differ from the defaults)
ESTIMATORS = {"ransac": ("ransac", {}), "fgr": ("fgr", {}), "sc2pcr": ("sc2pcr", {}), "vbreg": ("vbreg", {}),
              "vbreg-seeds": ("vbreg", SC2PCR_SEEDING), "kabsch": ("kabsch", {})}


def set_threads(threads: int) -> None:
    """The same thread count for torch (SC2-PCR's and VBReg's tensors) and Open3D (RANSAC, FGR)."""
    torch.set_num_threads(threads)
    o3d.utility.set_max_threads(threads)


def measure(quick: bool = False, pairs: int | None = None, matches: int = 1000, ratios: tuple[float, ...] = (0.99,),
            threads: int | None = None, estimators: tuple[str, ...] = tuple(ESTIMATORS)) -> dict[str, float]:
    """Per outlier ratio and estimator: median seconds per pair, the ratio to RANSAC's median, the success rate.

    The estimators alternate on every pair, so load drift hits them alike. Without ``threads`` (run_all's
    call) everything is measured with one thread each, then RANSAC, SC2-PCR and VBReg's seeding option again
    with every core each (keys ending in ``, all cores``).
    """
    pairs = pairs or (5 if quick else 10)
    if threads is not None:
        return _measure(pairs, matches, ratios, threads, estimators)
    out = _measure(pairs, matches, ratios, 1, estimators)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    wide = _measure(pairs, matches, ratios, cores, ("ransac", "sc2pcr", "vbreg-seeds"))
    out.update({f"{key}, all cores": value for key, value in wide.items()})
    set_threads(1)
    return out


def _measure(pairs: int, matches: int, ratios: tuple[float, ...], threads: int,
             estimators: tuple[str, ...]) -> dict[str, float]:
    set_threads(threads)
    defaults = EstimatorFields()
    settings = {name: defaults.model_copy(update=update) for name, (_, update) in ESTIMATORS.items()}
    infer = load_vbreg(defaults)
    warm = make_pair(n_points=5000, n_matches=matches, outlier_ratio=0.5, seed=999)
    for name in estimators:
        estimate(ESTIMATORS[name][0], *warm.matches, 0.03, settings[name], vbreg_infer=infer)
    out: dict[str, float] = {}
    for ratio in ratios:
        times: dict[str, list[float]] = {name: [] for name in estimators}
        wins = dict.fromkeys(estimators, 0)
        for seed in range(pairs):
            pair = make_pair(n_points=5000, n_matches=matches, outlier_ratio=ratio, seed=seed)
            x, y = pair.matches
            for name in estimators:
                t0 = time.perf_counter()
                est = estimate(ESTIMATORS[name][0], x, y, 0.03, settings[name], seed=seed, vbreg_infer=infer)
                times[name].append(time.perf_counter() - t0)
                m = pose_metrics(est.transform, pair.transform)
                wins[name] += est.status == "ok" and m["RE_deg"] < 5 and m["TE"] < 0.05
        base = float(np.median(times["ransac"]))
        for name in estimators:
            med = float(np.median(times[name]))
            out[f"{ratio} {name} s"] = med
            out[f"{ratio} {name} / ransac"] = med / base
            out[f"{ratio} {name} success"] = wins[name] / pairs
    return out


def profile(name: str, pairs: int, matches: int, ratio: float, threads: int, rows: int = 12) -> str:
    """cProfile of ``name`` over ``pairs`` pairs at ``ratio`` outliers (after a warm-up), with RANSAC's and its own
    time per pair unprofiled."""
    set_threads(threads)
    settings = EstimatorFields().model_copy(update=ESTIMATORS[name][1])
    infer = load_vbreg(settings)
    warm = make_pair(n_points=5000, n_matches=matches, outlier_ratio=0.5, seed=999)
    batch = [make_pair(n_points=5000, n_matches=matches, outlier_ratio=ratio, seed=seed).matches
             for seed in range(pairs)]
    lines = []
    for method, fields in (("ransac", EstimatorFields()), (ESTIMATORS[name][0], settings)):
        estimate(method, *warm.matches, 0.03, fields, vbreg_infer=infer)
        t0 = time.perf_counter()
        for x, y in batch:
            estimate(method, x, y, 0.03, fields, seed=0, vbreg_infer=infer)
        lines.append(f"{method}: {(time.perf_counter() - t0) / pairs:.3f} s/pair")
    prof = cProfile.Profile()
    prof.enable()
    for x, y in batch:
        estimate(ESTIMATORS[name][0], x, y, 0.03, settings, seed=0, vbreg_infer=infer)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(rows)
    return "\n".join(lines) + f"\n{name}, {pairs} pairs profiled:\n" + out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--matches", type=int, default=1000)
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.5, 0.9, 0.99])
    parser.add_argument("--threads", type=int, default=1, help="torch and Open3D threads, the same for every method")
    parser.add_argument("--profile", choices=tuple(ESTIMATORS), help="print where this estimator's time goes")
    args = parser.parse_args()
    if args.profile:
        print(profile(args.profile, args.pairs, args.matches, args.ratios[-1], args.threads))
        return
    m = measure(pairs=args.pairs, matches=args.matches, ratios=tuple(args.ratios), threads=args.threads)
    print(f"{args.threads} thread(s) for every estimator")
    print(f"{'outliers':>8} {'method':>12} {'s/pair':>8} {'x RANSAC':>9} {'success':>8}")
    for ratio in args.ratios:
        for name in ESTIMATORS:
            print(f"{ratio:>8.2f} {name:>12} {m[f'{ratio} {name} s']:>8.3f} {m[f'{ratio} {name} / ransac']:>9.2f} "
                  f"{m[f'{ratio} {name} success']:>8.2f}")


if __name__ == "__main__":
    main()
