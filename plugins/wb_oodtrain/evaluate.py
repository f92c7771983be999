"""The ``ood.evaluate`` task: trained checkpoints side by side in one table and one ROC plot."""

from __future__ import annotations

from pathlib import Path

from wb_ood.api import METRIC_COLUMNS, metrics_rows
from wb_oodtrain.checkpoints import load_model
from wb_oodtrain.data import load_data
from wb_oodtrain.params import EvaluateParams
from wb_oodtrain.scoring import ID_SET, group_means, score_network
from workbench.api import MetricsTable, Progress, RunContext, ScoreSet


def model_label(ref: str) -> str:
    """``zoo:<id>`` -> id; ``.../<run>/artifacts/model.safetensors`` -> run folder name; else the file stem."""
    if ref.startswith("zoo:"):
        return ref[4:]
    path = Path(ref)
    if path.stem != "model":
        return path.stem
    return path.parent.parent.name if path.parent.name == "artifacts" else path.parent.name


def run(params: EvaluateParams, ctx: RunContext):
    data = load_data(params)
    for warning in data.warnings:
        ctx.log(warning)
    models = [(model_label(ref), load_model(ref, num_classes=data.num_classes, where=f"checkpoints[{i}]"))
              for i, ref in enumerate(params.checkpoints)]
    labels = [label for label, _ in models]
    if len(set(labels)) != len(labels):
        models = [(f"{i}:{label}", m) for i, (label, m) in enumerate(models)]
    scores, rows, notes = {}, [], list(data.warnings)
    for i, (label, loaded) in enumerate(models):
        wanted = [loaded.detector if d == "auto" else d for d in params.detectors]
        wanted = list(dict.fromkeys(wanted))
        yield Progress(i / len(models), f"scoring {label} ({loaded.method}) with {', '.join(wanted)}")
        scored = score_network(loaded.net, data, wanted, ctx, batch_size=params.batch_size, knn_k=params.knn_k,
                               odin_temperature=params.odin_temperature, odin_epsilon=params.odin_epsilon)
        if scored.skipped:
            notes.append(f"{label}: {', '.join(scored.skipped)} skipped (needs input gradients; ONNX gives none)")
        for det, sets in scored.scores.items():
            name = f"{label}:{det}"
            scores[name] = sets
            means = group_means(sets, data.groups)
            rows.append([label, loaded.method, det, scored.accuracy,
                         *(means.get(k, float("nan")) for k in ("near_auroc", "near_fpr95", "far_auroc",
                                                                 "far_fpr95"))])
        if scored.export is not None:
            notes.append(f"{label}: ONNX max |onnx - torch| {scored.export.worst:.2e}")
            ctx.log(notes[-1])
    if not scores:
        raise ValueError("detectors: nothing left to run (ODIN and i-ODIN need the torch backend)")
    yield MetricsTable(name="comparison", title="Trained OOD detectors side by side (near/far means)",
                       columns=["model", "method", "detector", "ID accuracy", "near AUROC", "near FPR@95",
                                "far AUROC", "far FPR@95"], rows=rows,
                       notes="FPR@95: OOD accepted when 95% of ID is kept (PALM/MixOE convention); the per-set "
                             "table also gives OpenOOD's. " + "; ".join(notes))
    yield MetricsTable(name="ood-metrics", title="OOD detection metrics per set",
                       columns=["detector", "ood set", "group", *METRIC_COLUMNS],
                       rows=metrics_rows(scores, ID_SET, data.groups),
                       notes="Scores are confidences (higher = ID). fpr95_id_pos: OOD accepted at 95% ID kept; "
                             "fpr95_ood_pos: ID rejected at 95% OOD caught (OpenOOD v1.5).")
    yield ScoreSet(name="scores", title="Trained detectors (higher = more in-distribution)", scores=scores,
                   id_set=ID_SET, groups=data.groups)
