"""Cost of the test-time adaptation methods relative to the source model's forward pass (digits CNN).

LAME: the per-batch correction (affinity + fixed point, numpy) over the forward pass, per affinity; the
goal is under 10% at batch 64. TENT/CAFA: one online step (forward + backward + update) over the forward
pass. Interleaved medians over repeats, one torch thread (numpy/BLAS threads as set by OMP_NUM_THREADS).

    OMP_NUM_THREADS=1 python benchmarks/tta_cost.py [--batch 64] [--repeats 30] [--device cpu]
        [--corruption gaussian_noise --severity 3]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import torch
from timing import interleaved_medians

from wb_tta.cafa import compute_source_stats
from wb_tta.corruptions import corrupt
from wb_tta.lame import lame
from wb_tta.methods import Cafa, Tent, softmax
from wb_tta.sources import load_source_model, load_split, source_subset
from workbench.api import ClassifierOutputs, RunContext

AFFINITIES = {"knn": 1.0, "rbf": 1.0, "linear": 0.1}


def _corrupted_batch(batch: int, corruption: str, severity: int):
    model = load_source_model()
    test = load_split("digits", "test")
    return model, corrupt(test.x[:batch], corruption, severity)


def measure(quick: bool = False, batch: int = 64, repeats: int | None = None, device: str = "cpu",
            corruption: str = "gaussian_noise", severity: int = 3) -> dict[str, float]:
    """LAME's correction per affinity as a fraction of the forward pass, all paths interleaved (one torch thread)."""
    torch.set_num_threads(1)
    repeats = repeats or (15 if quick else 30)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    model, x = _corrupted_batch(batch, corruption, severity)
    ctx = RunContext(run_dir=Path(tempfile.mkdtemp()), seed=0, engine="torch", device=device,
                     logger=logging.getLogger("bench"))
    source = ClassifierOutputs(model, ctx, x)
    logits, feats = source.outputs(x)
    probs = softmax(logits)
    paths = {"forward": lambda: source.outputs(x)}
    for kind, lam in AFFINITIES.items():
        paths[kind] = lambda kind=kind, lam=lam: lame(probs, feats, kind=kind, lam=lam)
    t = interleaved_medians(paths, repeats, warmup=3, sync=sync)
    out = {"forward s": t["forward"]}
    for kind, lam in AFFINITIES.items():
        out[f"lame {kind} / forward"] = t[kind] / t["forward"]
        out[f"lame {kind} iterations"] = lame(probs, feats, kind=kind, lam=lam).iterations
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--corruption", default="gaussian_noise", help="the batch is corrupted (LAME iterates "
                                                                       "more on uncertain outputs)")
    parser.add_argument("--severity", type=int, default=3)
    args = parser.parse_args()
    m = measure(batch=args.batch, repeats=args.repeats, device=args.device, corruption=args.corruption,
                severity=args.severity)
    forward = m["forward s"]
    print(f"device {args.device}, batch {args.batch} ({args.corruption} s{args.severity}): "
          f"forward pass (logits + features) {1000 * forward:.2f} ms")
    for kind in AFFINITIES:
        share = m[f"lame {kind} / forward"]
        print(f"LAME {kind:6s}: {1000 * share * forward:7.2f} ms per batch ({m[f'lame {kind} iterations']} "
              f"iterations) = {100 * share:5.1f}% of the forward pass")
    model, x = _corrupted_batch(args.batch, args.corruption, args.severity)
    src = source_subset(load_split("digits", "train"), 100, 0)
    stats = compute_source_stats(model, src.x, src.y, 6, "tied", 0.1, device=args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    steps = {"TENT": Tent(model, device=args.device), "CAFA": Cafa(model, stats, device=args.device)}
    paths = {name: (lambda method=method: method.process(x)) for name, method in steps.items()}
    t = interleaved_medians(paths, args.repeats, warmup=3, sync=sync)
    for name, cost in t.items():
        print(f"{name} step: {1000 * cost:7.2f} ms per batch = {cost / forward:4.2f}x the forward pass")


if __name__ == "__main__":
    main()
