"""Cost of the test-time adaptation methods relative to the source model's forward pass (digits CNN).

LAME: the per-batch correction (affinity + fixed point, numpy) over the forward pass, per affinity; the
goal is under 10% at batch 64. TENT/CAFA: one online step (forward + backward + update) over the forward
pass. Medians over repeats, one torch thread (numpy/BLAS threads as set by OMP_NUM_THREADS).

    OMP_NUM_THREADS=1 python benchmarks/tta_cost.py [--batch 64] [--repeats 30] [--device cpu]
        [--corruption gaussian_noise --severity 3]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from wb_tta.cafa import compute_source_stats
from wb_tta.corruptions import corrupt
from wb_tta.lame import lame
from wb_tta.methods import Cafa, Tent, softmax
from wb_tta.sources import load_source_model, load_split, source_subset
from workbench.api import ClassifierOutputs, RunContext


def median_seconds(fn, repeats: int, sync=lambda: None) -> float:
    for _ in range(3):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--corruption", default="gaussian_noise", help="the batch is corrupted (LAME iterates "
                                                                       "more on uncertain outputs)")
    parser.add_argument("--severity", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    model = load_source_model()
    test = load_split("digits", "test")
    x = corrupt(test.x[:args.batch], args.corruption, args.severity)
    ctx = RunContext(run_dir=Path(tempfile.mkdtemp()), seed=0, engine="torch", device=args.device,
                     logger=logging.getLogger("bench"))
    source = ClassifierOutputs(model, ctx, x)
    forward = median_seconds(lambda: source.outputs(x), args.repeats, sync)
    logits, feats = source.outputs(x)
    probs = softmax(logits)
    print(f"device {args.device}, batch {args.batch} ({args.corruption} s{args.severity}): "
          f"forward pass (logits + features) {1000 * forward:.2f} ms")
    for kind in ("knn", "rbf", "linear"):
        lam = 0.1 if kind == "linear" else 1.0
        cost = median_seconds(lambda kind=kind, lam=lam: lame(probs, feats, kind=kind, lam=lam), args.repeats)
        iters = lame(probs, feats, kind=kind, lam=lam).iterations
        print(f"LAME {kind:6s}: {1000 * cost:7.2f} ms per batch ({iters} iterations) = "
              f"{100 * cost / forward:5.1f}% of the forward pass")
    src = source_subset(load_split("digits", "train"), 100, 0)
    stats = compute_source_stats(model, src.x, src.y, 6, "tied", 0.1, device=args.device)
    for name, method in (("TENT", Tent(model, device=args.device)),
                         ("CAFA", Cafa(model, stats, device=args.device))):
        cost = median_seconds(lambda method=method: method.process(x), args.repeats, sync)
        print(f"{name} step: {1000 * cost:7.2f} ms per batch = {cost / forward:4.2f}x the forward pass")


if __name__ == "__main__":
    main()
