"""SC2-PCR and VBReg: the reference variant (the default) vs the workbench variant on the same synthetic pairs.

    python benchmarks/registration_variants.py [--methods sc2pcr vbreg] [--pairs 100] [--run-seed 1000]

For each outlier model at the hard end of the ladder (surface 97/99 %, box 95/99 %, structured 60/70 %) prints,
per method and ratio, the success rate (RE < 5 deg, TE < 0.05) of both variants, the number of pairs where
exactly one of them succeeds, and the median RE over successes. VBReg uses the zoo model on torch-cpu.
docs/fidelity.md quotes its output.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from wb_registration.estimators import load_vbreg
from wb_registration.params import SweepParams
from wb_registration.task_sweep import sweep_rows

CELLS = (("surface", (0.97, 0.99)), ("box", (0.95, 0.99)), ("structured", (0.6, 0.7)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["sc2pcr", "vbreg"], choices=["sc2pcr", "vbreg"])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--run-seed", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    infer = load_vbreg(SweepParams()) if "vbreg" in args.methods else None
    print(f"{'method':8} {'outliers':10} {'ratio':>5}  {'reference':>9}  {'workbench':>9}  {'differ':>6}  "
          f"{'median RE ref / wb (deg)':>24}")
    for model, ratios in CELLS:
        rows = {}
        for variant in ("reference", "workbench"):
            params = SweepParams(methods=args.methods, outlier_ratios=list(ratios), seeds=args.pairs,
                                 n_matches=1000, n_points=5000, outlier_model=model, sc2_variant=variant,
                                 vbreg_variant=variant)
            rows[variant] = list(sweep_rows(params, args.run_seed, infer))
        for method in args.methods:
            for ratio in ratios:
                cell = {v: [r for r in rows[v] if r["method"] == method and r["outlier_ratio"] == ratio]
                        for v in rows}
                ok = {v: np.array([r["success"] for r in c], bool) for v, c in cell.items()}
                med = {v: np.median([r["RE_deg"] for r, s in zip(cell[v], ok[v]) if s]) if ok[v].any() else np.nan
                       for v in cell}
                ref, wb = ok["reference"], ok["workbench"]
                print(f"{method:8} {model:10} {ratio:5.2f}  {ref.mean():9.2f}  {wb.mean():9.2f}  "
                      f"{int(np.sum(ref != wb)):6d}  {med['reference']:11.3f} / {med['workbench']:.3f}", flush=True)


if __name__ == "__main__":
    main()
