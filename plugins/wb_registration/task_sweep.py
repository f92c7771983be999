"""The ``registration.sweep`` task: the robustness ladder over outlier ratio x method x seed, as CSV,
a table and curves (success rate, median RE/TE over successes, time per pair)."""

from __future__ import annotations

import csv
import time

import numpy as np
import torch

from wb_registration.estimators import estimate, load_vbreg
from wb_registration.metrics import inlier_scores, pose_metrics
from wb_registration.params import SweepParams
from wb_registration.synthetic import make_pair
from workbench.api import Curves, MetricsTable, Progress, RunContext

COLUMNS = ["method", "outlier_ratio", "seed", "status", "success", "RE_deg", "TE", "inlier_precision",
           "inlier_recall", "inlier_f1", "time_s"]


def sweep_rows(params: SweepParams, run_seed: int, infer=None, check=lambda: None):
    """Yield one row dict per (ratio, seed, method)."""
    eps = params.eps or 0.03
    for ratio in params.outlier_ratios:
        for k in range(params.seeds):
            seed = run_seed + k
            pair = make_pair(params.shape, params.n_points, params.rotation_max_deg, params.translation, params.noise,
                             params.overlap, params.n_matches, ratio, params.outlier_model, eps, seed)
            x, y = pair.matches
            for method in params.methods:
                check()
                t0 = time.perf_counter()
                est = estimate(method, x, y, eps, params, seed=seed, vbreg_infer=infer)
                elapsed = time.perf_counter() - t0
                m = pose_metrics(est.transform, pair.transform)
                ok = est.status == "ok" and m["RE_deg"] < params.re_max_deg and m["TE"] < params.te_max
                yield {"method": method, "outlier_ratio": ratio, "seed": seed, "status": est.status,
                       "success": float(ok), "RE_deg": m["RE_deg"], "TE": m["TE"],
                       **inlier_scores(est.inliers, pair.truth), "time_s": elapsed}


def summarise(rows: list[dict], methods: list[str], ratios: list[float]) -> dict[str, dict[str, np.ndarray]]:
    """Per method: success rate, median RE/TE over successes (NaN when none) and mean time, per ratio."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:
        stats = {"success": [], "RE_deg": [], "TE": [], "time_s": []}
        for ratio in ratios:
            cell = [r for r in rows if r["method"] == method and r["outlier_ratio"] == ratio]
            wins = [r for r in cell if r["success"]]
            stats["success"].append(np.mean([r["success"] for r in cell]) if cell else np.nan)
            stats["RE_deg"].append(np.median([r["RE_deg"] for r in wins]) if wins else np.nan)
            stats["TE"].append(np.median([r["TE"] for r in wins]) if wins else np.nan)
            stats["time_s"].append(np.mean([r["time_s"] for r in cell]) if cell else np.nan)
        out[method] = {k: np.asarray(v, float) for k, v in stats.items()}
    return out


def run(params: SweepParams, ctx: RunContext):
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    infer = load_vbreg(params, ctx) \
        if "vbreg" in params.methods else None
    total = len(params.outlier_ratios) * params.seeds * len(params.methods)
    rows: list[dict] = []
    for row in sweep_rows(params, ctx.seed, infer, ctx.check_cancelled):
        rows.append(row)
        if len(rows) % len(params.methods) == 0:
            yield Progress(len(rows) / total, f"ratio {row['outlier_ratio']:.2f}, seed {row['seed']}")
    path = ctx.artifacts / "sweep.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    ctx.log(f"per-pair rows written to {path}")
    summary = summarise(rows, params.methods, params.outlier_ratios)
    ratios = np.asarray(params.outlier_ratios, float) * 100
    labels = {"success": ("success rate", "success"), "RE_deg": ("median RE over successes (deg)", "RE"),
              "TE": ("median TE over successes", "TE"), "time_s": ("time per pair (s)", "time")}
    for key, (y_label, short) in labels.items():
        yield Curves(name=f"sweep_{short.lower()}", title=f"{y_label} vs outlier ratio ({params.outlier_model})",
                     x_label="outlier ratio (%)", y_label=y_label,
                     series={m: np.vstack([ratios, summary[m][key]]) for m in params.methods})
    table_rows = [[m] + [float(v) for v in summary[m]["success"]] for m in params.methods]
    yield MetricsTable(name="ladder", title=f"Success rate vs outlier ratio ({params.seeds} seeds, "
                                            f"{params.n_matches} matches, {params.outlier_model} outliers)",
                       columns=["method"] + [f"{r:g}%" for r in ratios], rows=table_rows,
                       notes=f"success: RE < {params.re_max_deg} deg and TE < {params.te_max}; rows in {path}")
