"""Hook implementations of the CLIM plugin: metadata only, no torch or open_clip."""

from __future__ import annotations

from wb_clim.params import MosaicParams, RegionEvaluateParams, RegionScoreParams, TuneParams
from workbench.api import Family, TaskSpec, hookimpl

TORCH = ("torch-cuda", "torch-cpu")
ZOO_ID = "clim-tiny-clip"
#: the shapes world (scenes, vocabulary) and the image-caption readers of clip-heatmaps (clim.tune on a user's set)
REQUIRES = ("shapes-clip", "clip-heatmaps")
TORCH_OR_ONNX = (*TORCH, "onnx-cuda", "onnx-cpu")


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(
        id="clim.region-score",
        title="Open-vocabulary region scoring (dense CLIP features)",
        family=Family.REGION,
        entry="wb_clim.task_score:run",
        params=RegionScoreParams,
        description="CLIM-style region embeddings: the CLIP's dense map (value path in the last block), RoIAlign "
                    "per box, cosine against prompted class names; per-box probabilities and top-k labels, the "
                    "box x class similarities and dense class maps. Boxes from a JSON or COCO file or the shapes "
                    "scenes' ground truth. On ONNX the dense map comes from ONNX Runtime (parity recorded).",
        backends=TORCH_OR_ONNX,
        execution="worker",
        outputs=("regions", "metrics", "heatmap-grid"),
        requires=REQUIRES,
    ))
    registry.add_task(TaskSpec(
        id="clim.evaluate",
        title="Region classification accuracy on shapes scenes",
        family=Family.REGION,
        entry="wb_clim.task_evaluate:run",
        params=RegionEvaluateParams,
        description="Top-1/top-5 and per-class accuracy and the confusions of ground-truth boxes classified by "
                    "dense region features (colour x shape vocabulary), next to image-level zero-shot accuracy "
                    "on one-object scenes; any CLIP (zoo id, open_clip name + weights, local-dir). On ONNX the "
                    "region features' dense maps come from ONNX Runtime (parity recorded).",
        backends=TORCH_OR_ONNX,
        execution="worker",
        outputs=("metrics", "regions"),
        requires=REQUIRES,
    ))
    registry.add_task(TaskSpec(
        id="clim.mosaic",
        title="CLIM mosaics and their pseudo-boxes",
        family=Family.REGION,
        entry="wb_clim.task_mosaic:run",
        params=MosaicParams,
        description="Tiles captioned shapes scenes into N x N mosaics as CLIM's training does: one pseudo-box per "
                    "cell, row-major, labelled by its scene's caption; the scenes left over stay single.",
        backends=("cpu",),
        execution="inproc",
        outputs=("regions", "image-grid", "metrics"),
        requires=REQUIRES,
    ))
    registry.add_task(TaskSpec(
        id="clim.tune",
        title="CLIM tuning on captioned shapes scenes",
        family=Family.REGION,
        entry="wb_clim.task_tune:run",
        params=TuneParams,
        description="Contrastive Language-Image Mosaic: scenes tiled into mosaics, each cell's region embedding "
                    "against its caption (text tower frozen), last vision blocks trained, resumable; saves the "
                    "weight-space ensemble as an open_clip folder and reports region accuracy before and after.",
        backends=TORCH,
        execution="worker",
        outputs=("curves", "metrics"),
        requires=REQUIRES,
    ))


@hookimpl
def workbench_register_model_cards(registry) -> None:
    registry.add_zoo_card(ZOO_ID)
