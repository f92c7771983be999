"""Hook implementations of the test-time adaptation plugin: metadata only, no torch."""

from __future__ import annotations

from wb_tta.params import AdaptParams, BenchmarkParams, SourceStatsParams
from workbench.api import Family, TaskSpec, hookimpl


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(
        id="tta.adapt",
        title="Test-time adaptation over a stream",
        family=Family.TTA,
        entry="wb_tta.tasks:run_adapt",
        params=AdaptParams,
        description="Runs no adaptation, TENT, LAME or CAFA online over a corrupted (covariate shift), ordered "
                    "(label shift) test stream; online and cumulative accuracy against the unadapted model, "
                    "LAME's energy and changed predictions, CAFA's intra/inter-class distances. LAME and "
                    "'none' also run on the exported ONNX model.",
        backends=("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"),
        execution="worker",
        outputs=("curves", "metrics", "image-grid"),
        requires=("digits",),
    ))
    registry.add_task(TaskSpec(
        id="tta.benchmark",
        title="Test-time adaptation benchmark",
        family=Family.TTA,
        entry="wb_tta.tasks:run_benchmark",
        params=BenchmarkParams,
        description="Accuracy of each method per corruption x severity x stream order, as a table and a CSV.",
        backends=("torch-cuda", "torch-cpu"),
        execution="worker",
        outputs=("metrics",),
        requires=("digits",),
    ))
    registry.add_task(TaskSpec(
        id="tta.source-stats",
        title="CAFA source statistics",
        family=Family.TTA,
        entry="wb_tta.tasks:run_source_stats",
        params=SourceStatsParams,
        description="Class-conditional feature means and covariances of the source model on a labelled source "
                    "subset, saved for reuse by CAFA (cafa_stats_file).",
        backends=("torch-cuda", "torch-cpu"),
        execution="inproc",
        outputs=("metrics",),
        requires=("digits",),
    ))
