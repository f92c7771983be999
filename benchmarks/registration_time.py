"""Time per pair of each registration estimator vs Open3D RANSAC on the same synthetic matches.

    python benchmarks/registration_time.py [--pairs 5] [--matches 1000] [--ratios 0.5 0.9 0.99]

Prints one row per (outlier ratio, method): median seconds per pair, the ratio to RANSAC's time on the same
matches, and the success rate (RE < 5 deg, TE < 0.05). VBReg uses the zoo model on torch-cpu. Every method
runs once on a warm-up pair first, so thread pools and lazy initialisation are not timed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from wb_registration.estimators import estimate, load_vbreg
from wb_registration.metrics import pose_metrics
from wb_registration.params import EstimatorFields
from wb_registration.synthetic import make_pair

METHODS = ("ransac", "fgr", "sc2pcr", "vbreg", "kabsch")


def measure(quick: bool = False, pairs: int | None = None, matches: int = 1000, ratios: tuple[float, ...] = (0.99,),
            threads: int = 1, methods: tuple[str, ...] = METHODS) -> dict[str, float]:
    """Per outlier ratio and method: median seconds per pair, the ratio to RANSAC's median, and the success rate.

    The methods alternate on every pair, so load drift hits them alike.
    """
    torch.set_num_threads(threads)
    pairs = pairs or (5 if quick else 10)
    settings = EstimatorFields()
    infer = load_vbreg(settings)
    warm = make_pair(n_points=5000, n_matches=matches, outlier_ratio=0.5, seed=999)
    for method in methods:
        estimate(method, *warm.matches, 0.03, settings, vbreg_infer=infer)
    out: dict[str, float] = {}
    for ratio in ratios:
        times: dict[str, list[float]] = {m: [] for m in methods}
        wins = dict.fromkeys(methods, 0)
        for seed in range(pairs):
            pair = make_pair(n_points=5000, n_matches=matches, outlier_ratio=ratio, seed=seed)
            x, y = pair.matches
            for method in methods:
                t0 = time.perf_counter()
                est = estimate(method, x, y, 0.03, settings, seed=seed, vbreg_infer=infer)
                times[method].append(time.perf_counter() - t0)
                m = pose_metrics(est.transform, pair.transform)
                wins[method] += est.status == "ok" and m["RE_deg"] < 5 and m["TE"] < 0.05
        base = float(np.median(times["ransac"]))
        for method in methods:
            med = float(np.median(times[method]))
            out[f"{ratio} {method} s"] = med
            out[f"{ratio} {method} / ransac"] = med / base
            out[f"{ratio} {method} success"] = wins[method] / pairs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--matches", type=int, default=1000)
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.5, 0.9, 0.99])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    m = measure(pairs=args.pairs, matches=args.matches, ratios=tuple(args.ratios), threads=args.threads)
    print(f"{'outliers':>8} {'method':>8} {'s/pair':>8} {'x RANSAC':>9} {'success':>8}")
    for ratio in args.ratios:
        for method in METHODS:
            print(f"{ratio:>8.2f} {method:>8} {m[f'{ratio} {method} s']:>8.3f} {m[f'{ratio} {method} / ransac']:>9.2f} "
                  f"{m[f'{ratio} {method} success']:>8.2f}")


if __name__ == "__main__":
    main()
