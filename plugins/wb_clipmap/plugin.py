"""Hook implementations of the CLIP heatmaps plugin: metadata only, no torch or open_clip."""

from __future__ import annotations

from wb_clipmap.params import FoilBenchmarkParams, MisalignmentParams, ScoreParams
from workbench.api import Family, TaskSpec, hookimpl

TORCH = ("torch-cuda", "torch-cpu")


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(
        id="clip.misalignment",
        title="CLIP misalignment: word attributions and heatmaps",
        family=Family.VL,
        entry="wb_clipmap.task_misalignment:run",
        params=MisalignmentParams,
        description="CLIP4DM: gradients of the image-text cosine w.r.t. the text tower's attention give per-word "
                    "attributions (negative = misaligned); flagged words and spans, CLIPScore, F-CLIPScore, and "
                    "the vision tower's relevance maps (unsigned and signed, per word). One image + caption, or a "
                    "folder / CSV / JSONL / FOIL COCO file of pairs. Needs gradients: torch only.",
        backends=TORCH,
        execution="worker",
        outputs=("token-scores", "heatmap", "heatmap-grid", "metrics", "scores"),
        requires=("shapes-clip",),
    ))
    registry.add_task(TaskSpec(
        id="clip.foil-benchmark",
        title="CLIP4DM on the shapes world's foils",
        family=Family.VL,
        entry="wb_clipmap.task_foils:run",
        params=FoilBenchmarkParams,
        description="Localisation accuracy of the swapped word per foil kind (colour, shape, size, relation) against "
                    "chance, AP of CLIPScore vs F-CLIPScore for true vs foil captions, word-level P/R/F1. "
                    "Needs gradients: torch only.",
        backends=TORCH,
        execution="worker",
        outputs=("metrics", "scores", "heatmap-grid"),
        requires=("shapes-clip",),
    ))
    registry.add_task(TaskSpec(
        id="clip.score",
        title="CLIPScore of image-caption pairs",
        family=Family.VL,
        entry="wb_clipmap.task_score:run",
        params=ScoreParams,
        description="CLIPScore = 2.5 * max(cos, 0) per pair, on torch or on the exported ONNX encoders (ONNX "
                    "Runtime). Word attributions need gradients and run in clip.misalignment (torch only).",
        backends=("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"),
        execution="worker",
        outputs=("metrics",),
        requires=("shapes-clip",),
    ))
