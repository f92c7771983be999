"""SC2-PCR and VBReg: the reference variant (the default) vs the workbench variant on the same synthetic pairs, or
VBReg's reference seeding vs its SC2-PCR seed-count option.

    python benchmarks/registration_variants.py [--methods sc2pcr vbreg] [--pairs 100] [--run-seed 1000]
    python benchmarks/registration_variants.py --compare seeds --methods vbreg [--pairs 50]

For each outlier model at the hard end of the ladder (surface 97/99 %, box 95/99 %, structured 60/70 %) prints,
per method and ratio, the success rate (RE < 5 deg, TE < 0.05) of both settings, the number of pairs where
exactly one of them succeeds, the median RE over successes and the median time per pair (one torch thread).
VBReg uses the zoo model on torch-cpu. docs/fidelity.md quotes its output.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from wb_registration.estimators import load_vbreg
from wb_registration.params import SC2PCR_SEEDING, SweepParams
from wb_registration.task_sweep import sweep_rows

CELLS = (("surface", (0.97, 0.99)), ("box", (0.95, 0.99)), ("structured", (0.6, 0.7)))
#: --compare: the two settings compared, each a (name, parameters) pair; the first is the default
SETTINGS = {"variant": (("reference", {"sc2_variant": "reference", "vbreg_variant": "reference"}),
                        ("workbench", {"sc2_variant": "workbench", "vbreg_variant": "workbench"})),
            "seeds": (("reference", {}), ("sc2pcr-seeds", SC2PCR_SEEDING))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["sc2pcr", "vbreg"], choices=["sc2pcr", "vbreg"])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--run-seed", type=int, default=1000)
    parser.add_argument("--compare", choices=list(SETTINGS), default="variant")
    args = parser.parse_args()
    torch.set_num_threads(1)
    infer = load_vbreg(SweepParams()) if "vbreg" in args.methods else None
    (first, _), (second, _) = SETTINGS[args.compare]
    print(f"{'method':8} {'outliers':10} {'ratio':>5}  {first:>12}  {second:>12}  {'differ':>6}  "
          f"{'median RE (deg)':>17}  {'median s/pair':>15}")
    for model, ratios in CELLS:
        rows = {}
        for name, setting in SETTINGS[args.compare]:
            params = SweepParams(methods=args.methods, outlier_ratios=list(ratios), seeds=args.pairs,
                                 n_matches=1000, n_points=5000, outlier_model=model, **setting)
            rows[name] = list(sweep_rows(params, args.run_seed, infer))
        for method in args.methods:
            for ratio in ratios:
                cell = {v: [r for r in rows[v] if r["method"] == method and r["outlier_ratio"] == ratio]
                        for v in rows}
                ok = {v: np.array([r["success"] for r in c], bool) for v, c in cell.items()}
                med = {v: np.median([r["RE_deg"] for r, s in zip(cell[v], ok[v]) if s]) if ok[v].any() else np.nan
                       for v in cell}
                secs = {v: np.median([r["time_s"] for r in c]) for v, c in cell.items()}
                a, b = ok[first], ok[second]
                print(f"{method:8} {model:10} {ratio:5.2f}  {a.mean():12.2f}  {b.mean():12.2f}  "
                      f"{int(np.sum(a != b)):6d}  {med[first]:7.3f} / {med[second]:.3f}  "
                      f"{secs[first]:6.3f} / {secs[second]:.3f}", flush=True)


if __name__ == "__main__":
    main()
