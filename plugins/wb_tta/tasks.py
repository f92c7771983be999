"""Task entry points: tta.adapt, tta.benchmark and tta.source-stats (imported only when a task runs)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wb_tta.cafa import SourceStats, check_compatible, compute_source_stats, load_source_stats, mahalanobis
from wb_tta.methods import BatchNormStats, Cafa, FeatureSource, Lame, NoAdaptation, Tent
from wb_tta.online import OnlineLog, run_online, run_to_end
from wb_tta.params import AdaptParams, BenchmarkParams, MethodSettings, SourceStatsParams
from wb_tta.sources import (
    DIGITS,
    LabelledImages,
    check_classes,
    load_source_model,
    load_split,
    source_subset,
)
from wb_tta.streams import Stream, build_stream
from workbench.api import ClassifierOutputs, Curves, ImageGrid, MetricsTable, Progress, RunContext, to_uint8

STATS_FILE = "cafa_stats_file.safetensors"
MAX_SAMPLE_ROWS = 500


def source_stats_for(params: MethodSettings, data: str, model: nn.Module, ctx: RunContext) -> SourceStats:
    """Load the statistics named by ``cafa_stats_file`` (checked against the model) or compute and save them."""
    num_classes = int(model.fc.out_features)
    if params.cafa_stats_file:
        stats = load_source_stats(params.cafa_stats_file)
        check_compatible(stats, model, num_classes)
        ctx.log(f"CAFA source statistics loaded from {stats.path}")
        return stats
    if data != DIGITS:
        raise ValueError(f"data {data!r} is an image folder, which is the test stream, not labelled source data: "
                         "compute CAFA statistics first with tta.source-stats (data = the source folder) and pass "
                         "the file as cafa_stats_file")
    source = source_subset(load_split(data, "train"), params.cafa_per_class, ctx.seed)
    check_classes(source, model, f"{data} (source)")
    stats = compute_source_stats(model, source.x, source.y, num_classes, params.cafa_covariance,
                                 params.cafa_shrinkage, device=ctx.device)
    stats.save(ctx.artifacts / STATS_FILE)
    ctx.log(f"CAFA source statistics from {len(source.y)} source images written to {stats.path}")
    return stats


def make_method(name: str, params: MethodSettings, model: nn.Module, source: FeatureSource, device: str,
                stats: SourceStats | None = None):
    """The online method object for ``name`` with the run's hyper-parameters."""
    if name == "none":
        return NoAdaptation(source)
    if name == "lame":
        return Lame(source, params.lame_affinity, params.lame_knn, params.lame_lambda, params.lame_max_iter,
                    params.lame_force_symmetry, params.lame_stop, params.lame_symmetrise)
    common = {"lr": params.lr, "optimizer": params.optimizer, "steps": params.steps,
              "bn_statistics": params.bn_statistics, "device": device}
    if name == "tent":
        return Tent(model, **common)
    if name == "bn-stats":
        return BatchNormStats(model, device=device)
    if name == "cafa":
        if stats is None:
            raise ValueError("CAFA needs source statistics")
        return Cafa(model, stats, denominator=params.cafa_denominator, **common)
    raise ValueError(f"unknown method {name!r}")


def _accuracy_curves(log: OnlineLog, label: str) -> dict[str, np.ndarray]:
    x = np.arange(1, len(log.labels) + 1, dtype=float)
    return {f"{label} per batch": np.stack([x, log.batch_accuracy]),
            f"{label} cumulative": np.stack([x, log.cumulative_accuracy])}


def _stream_for(params, data: LabelledImages, corruption: str, severity: int, order: str, seed: int) -> Stream:
    return build_stream(data.x, data.y, corruption, severity, order, params.batch_size, params.dirichlet_alpha,
                        params.passes, seed, params.ladder)


def _feature_source(params: AdaptParams, model: nn.Module, ctx: RunContext, example: np.ndarray) -> FeatureSource:
    """The frozen source on the run's engine (the host's inference engine; ``onnx_file`` overrides the export)."""
    if ctx.engine == "onnx" and params.method in ("tent", "cafa", "bn-stats"):
        raise ValueError(f"method={params.method} updates the model with gradients, so it runs on torch only; "
                         "use the torch backend (LAME and 'none' also run on ONNX)")
    onnx_file = Path(params.onnx_file) if params.onnx_file and ctx.engine == "onnx" else None
    return ClassifierOutputs(model, ctx, example, batch_size=max(len(example), 1), onnx_file=onnx_file)


def _lame_results(log: OnlineLog, stream: Stream, limit: int) -> list:
    energy = {f"batch {i + 1}": np.stack([np.arange(1, len(e["energy"]) + 1), np.asarray(e["energy"])])
              for i, e in enumerate(log.extras[:8])}
    before = np.concatenate([e["before"] for e in log.extras])
    after = np.concatenate(log.preds)
    truth = np.concatenate(log.labels)
    changed = np.flatnonzero(before != after)
    fixed = int(np.sum((before[changed] != truth[changed]) & (after[changed] == truth[changed])))
    broken = int(np.sum((before[changed] == truth[changed]) & (after[changed] != truth[changed])))
    shown = changed[:limit]
    grid = ImageGrid(name="lame-changed", title=f"LAME changed {len(changed)} predictions (before -> after, truth)",
                     images=[(np.clip(stream.x[i, 0], 0, 1) * 255).astype(np.uint8) for i in shown],
                     captions=[f"{before[i]}->{after[i]} (true {truth[i]})" for i in shown], ncols=8)
    fallbacks = sum(1 for e in log.extras if e.get("fallback"))
    table = MetricsTable(name="lame-changes", title="Predictions LAME changed",
                         columns=["changed", "fixed (wrong->right)", "broken (right->wrong)", "mean iterations"],
                         rows=[[int(len(changed)), fixed, broken,
                                float(np.mean([len(e["energy"]) for e in log.extras]))]],
                         notes=f"{fallbacks} single-sample batch(es) returned unchanged" if fallbacks else "")
    return [Curves(name="lame-energy", title="LAME energy per iteration (first batches)", series=energy,
                   x_label="iteration", y_label="energy"), grid, table]


def _changed_samples(log: OnlineLog, baseline: OnlineLog, stream: Stream, method: str) -> MetricsTable:
    """One row per sample whose prediction the method changed (first ``MAX_SAMPLE_ROWS``), with its picture."""
    after, before, truth = np.concatenate(log.preds), np.concatenate(baseline.preds), np.concatenate(log.labels)
    changed = np.flatnonzero(after != before)
    outcome = {(True, False): "fixed", (False, True): "broken", (False, False): "still wrong"}
    rows = [[int(i), int(i) // stream.batch_size + 1, int(truth[i]), int(before[i]), int(after[i]),
             outcome[(bool(after[i] == truth[i]), bool(before[i] == truth[i]))]] for i in changed[:MAX_SAMPLE_ROWS]]
    return MetricsTable(name="changed-samples", title=f"Samples {method} predicts differently from the unadapted "
                        f"model ({len(changed)}; click a row for its image)",
                        columns=["stream position", "batch", "truth", "no adaptation", method, "outcome"], rows=rows,
                        thumbnails=to_uint8(stream.x[changed[:MAX_SAMPLE_ROWS]]),
                        notes=f"first {MAX_SAMPLE_ROWS} of {len(changed)} shown" if len(changed) > MAX_SAMPLE_ROWS
                        else "")


def run_adapt(params: AdaptParams, ctx: RunContext):
    """One method over one stream, the unadapted model alongside; live accuracy curves."""
    model = load_source_model(params.model_path, params.model)
    data = load_split(params.data, "test")
    check_classes(data, model, params.data)
    stream = _stream_for(params, data, params.corruption, params.severity, params.order, ctx.seed)
    ctx.log(f"stream: {stream.description}, {len(stream.y)} images in {len(stream)} batches")
    source = _feature_source(params, model, ctx, stream.x)
    stats = source_stats_for(params, params.data, model, ctx) if params.method == "cafa" else None
    baseline = run_to_end(NoAdaptation(ClassifierOutputs(model, ctx, stream.x, engine="torch")), stream,
                          ctx.check_cancelled)
    method = make_method(params.method, params, model, source, ctx.device, stats)
    log = OnlineLog()
    for i, log in run_online(method, stream, ctx.check_cancelled):
        yield Progress((i + 1) / len(stream), f"batch {i + 1}/{len(stream)}: cumulative accuracy "
                       f"{log.accuracy:.3f}", metrics={"accuracy": log.accuracy})
        yield Curves(name="accuracy", title=f"{params.method} on {stream.description}", x_label="batch",
                     y_label="accuracy", series={**_accuracy_curves(log, params.method),
                                                 **_accuracy_curves(baseline, "no adaptation")})
    yield MetricsTable(
        name="summary", title="Online accuracy, before vs after",
        columns=["method", "stream", "accuracy", "no adaptation", "change", "batches", "ms per batch"],
        rows=[[params.method, stream.description, log.accuracy, baseline.accuracy, log.accuracy - baseline.accuracy,
               len(stream), 1000 * float(np.mean(log.seconds))]],
        notes=f"backend {ctx.backend}; {len(stream.y)} images ({params.passes} pass(es) over the {params.data} "
              "test split)")
    if params.method != "none":
        yield _changed_samples(log, baseline, stream, params.method)
    if params.method == "lame":
        yield from _lame_results(log, stream, params.thumbnails)
    if params.method in ("tent", "cafa"):
        yield Curves(name="adaptation-loss", title=f"{params.method}: loss before each update", x_label="batch",
                     y_label="loss", series={"loss": log.series("loss")})
        yield Curves(name="parameter-change", title=f"{params.method}: relative L2 change of the adapted "
                     "normalisation parameters", x_label="batch", y_label="||theta - theta0|| / ||theta0||",
                     series={"change": log.series("param_shift")})
    if params.method == "cafa":
        yield Curves(name="cafa-distances", title="CAFA: Mahalanobis distances over the stream", x_label="batch",
                     y_label="squared Mahalanobis distance",
                     series={"intra-class (to pseudo-label)": log.series("intra"),
                             "inter-class (mean over other classes)": log.series("inter")})


def run_benchmark(params: BenchmarkParams, ctx: RunContext):
    """Every method on corruption x severity x order; the CSV goes to the run's artifacts."""
    model = load_source_model(params.model_path, params.model)
    data = load_split(params.data, "test")
    check_classes(data, model, params.data)
    stats = source_stats_for(params, params.data, model, ctx) if "cafa" in params.methods else None
    source = ClassifierOutputs(model, ctx, data.x, engine="torch")
    cells = [(c, s, o) for c in params.corruptions for s in params.severities for o in params.orders]
    rows: list[list] = []
    columns = ["corruption", "severity", "order", *params.methods]
    for k, (corruption, severity, order) in enumerate(cells):
        stream = _stream_for(params, data, corruption, severity, order, ctx.seed)
        accs = []
        for name in params.methods:
            log = run_to_end(make_method(name, params, model, source, ctx.device, stats), stream,
                             ctx.check_cancelled)
            accs.append(round(log.accuracy, 4))
        rows.append([corruption, severity, order, *accs])
        yield Progress((k + 1) / len(cells), f"{stream.description}: " +
                       ", ".join(f"{m} {a:.3f}" for m, a in zip(params.methods, accs)))
        yield MetricsTable(name="benchmark", title="Online accuracy per corruption, severity and stream order",
                           columns=columns, rows=list(rows),
                           notes=f"{len(data.y) * params.passes} images per stream, batch {params.batch_size}, "
                                 f"ladder {params.ladder}")
    path = ctx.artifacts / "tta_benchmark.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    ctx.log(f"table written to {path}")
    means = []
    for order in params.orders:
        for severity in params.severities:
            sel = [r for r in rows if r[1] == severity and r[2] == order]
            means.append([order, severity, *[round(float(np.mean([r[3 + j] for r in sel])), 4)
                                            for j in range(len(params.methods))]])
    yield MetricsTable(name="benchmark-means", title="Mean accuracy over corruptions",
                       columns=["order", "severity", *params.methods], rows=means, notes=f"CSV: {path}")


def run_source_stats(params: SourceStatsParams, ctx: RunContext):
    """CAFA source statistics from a labelled source subset, saved as ``cafa_stats_file.safetensors``."""
    model = load_source_model(params.model_path, params.model)
    source = source_subset(load_split(params.data, "train"), params.per_class, ctx.seed)
    check_classes(source, model, f"{params.data} (source)")
    yield Progress(0.1, f"features of {len(source.y)} source images")
    stats = compute_source_stats(model, source.x, source.y, int(model.fc.out_features), params.covariance,
                                 params.shrinkage, device=ctx.device)
    path = stats.save(ctx.artifacts / STATS_FILE)
    ctx.log(f"written {path}")
    with torch.no_grad():
        feats = model.eval().to(ctx.device).forward_features(torch.from_numpy(source.x).to(ctx.device)).cpu()
    dist = mahalanobis(feats, stats).numpy()
    own = dist[np.arange(len(source.y)), source.y]
    rows = [[source.classes[c], int(stats.counts[c]), float(own[source.y == c].mean()),
             float(np.delete(dist[source.y == c], c, axis=1).mean())] for c in range(stats.num_classes)]
    yield MetricsTable(name="source-stats", title="CAFA source statistics",
                       columns=["class", "images", "mean intra distance", "mean distance to other classes"],
                       rows=rows, notes=f"file: {path}; covariance {stats.covariance}, shrinkage {stats.shrinkage}, "
                                        f"model fingerprint {stats.model_fingerprint}")
