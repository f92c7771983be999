"""Hook implementations of the OOD baselines plugin: metadata only, no torch."""

from __future__ import annotations

from wb_ood.params import PosthocParams
from workbench.api import Family, TaskSpec, hookimpl


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(
        id="ood.posthoc",
        title="Post-hoc OOD baselines",
        family=Family.OOD,
        entry="wb_ood.posthoc:run",
        params=PosthocParams,
        description="MSP, max-logit, Energy, ODIN, Mahalanobis (tied covariance) and KNN on a trained classifier, "
                    "with OpenOOD metrics per OOD set and near/far means. Runs on torch or the exported ONNX model "
                    "(ODIN needs input gradients: torch only).",
        backends=("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"),
        execution="inproc",
        outputs=("metrics", "scores", "image-grid"),
        requires=("digits",),
    ))
