"""The ``registration.register`` task: one pair in, the transform, matches, metrics and views out."""

from __future__ import annotations

import numpy as np
import torch

from wb_registration.geometry import apply_transform
from wb_registration.metrics import residual_histogram
from wb_registration.params import RegisterParams
from wb_registration.pipeline import load_pair, register, truth_mask
from workbench.api import MetricsTable, Progress, Registration, RunContext


def run(params: RegisterParams, ctx: RunContext):
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    yield Progress(0.05, f"loading the pair ({params.input})")
    pair = load_pair(params, ctx.seed)
    for warning in pair.warnings:
        ctx.log(f"warning: {warning}")
    infer = None
    if params.method == "vbreg":
        from wb_registration.estimators import load_vbreg

        infer = load_vbreg(params, ctx)
    elif ctx.engine == "onnx":
        ctx.log(f"note: {params.method} has no network; the onnx backend only changes VBReg")
    yield Progress(0.4, f"{len(pair.corr)} matches; estimating with {params.method}")
    est, measures = register(pair, params, ctx.seed, infer)
    ctx.log(f"status: {est.status}")
    np.save(ctx.artifacts / "transform.npy", est.transform)
    mask = truth_mask(pair)
    yield Registration(name="registration", title=f"{params.method} on {params.input} ({est.status})",
                       source=pair.source, target=pair.target, transform=est.transform,
                       correspondences=pair.corr, inliers=est.inliers, truth=mask, status=est.status,
                       truth_transform=pair.truth if pair.truth is not None else np.zeros((0, 4)))
    rows = [["method", params.method], ["status", est.status], ["backend", ctx.backend]]
    rows += [[k, float(v)] for k, v in {**measures, **est.info}.items()]
    rows += [["transform", np.array2string(est.transform, precision=5, separator=",").replace("\n", "")]]
    yield MetricsTable(name="metrics", title="Registration metrics", columns=["metric", "value"], rows=rows,
                       notes="; ".join(pair.warnings))
    x, y = pair.matched
    yield residual_histogram(np.linalg.norm(apply_transform(x, est.transform) - y, axis=1), pair.eps)
