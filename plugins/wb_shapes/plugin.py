"""Hook implementations of the shapes/CLIP plugin: metadata only, no torch or open_clip."""

from __future__ import annotations

from wb_shapes.params import BrowseScenesParams, EvaluateClipParams, TrainClipParams
from workbench.api import Family, SampleSpec, TaskSpec, hookimpl

ZOO_ID = "tiny-clip"


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(
        id="clip.train",
        title="Train the tiny CLIP on the shapes world",
        family=Family.DATA,
        entry="wb_shapes.train:run",
        params=TrainClipParams,
        description="Contrastive training of the zoo's tiny open_clip CLIP on freshly drawn shapes-world scenes, "
                    "with resumable checkpoints; writes an open_clip folder, its card and (optionally) the zoo copy.",
        backends=("torch-cuda", "torch-cpu"),
        execution="worker",
        outputs=("curves", "metrics"),
    ))
    registry.add_task(TaskSpec(
        id="clip.evaluate",
        title="Evaluate a CLIP on held-out shapes scenes",
        family=Family.VL,
        entry="wb_shapes.evaluate:run",
        params=EvaluateClipParams,
        description="Zero-shot colour and shape accuracy, caption retrieval R@1/R@5, one-word foil tests per "
                    "foil kind, and zero-shot accuracy on colour-shape combinations never seen in training.",
        backends=("torch-cuda", "torch-cpu"),
        execution="worker",
        outputs=("metrics", "image-grid"),
    ))
    registry.add_task(TaskSpec(
        id="shapes.scenes",
        title="Browse shapes-world scenes",
        family=Family.DATA,
        entry="wb_shapes.browse:run",
        params=BrowseScenesParams,
        description="Draws scenes of one split with their ground truth: object boxes and labels, captions and "
                    "the one-word foils the CLIP tasks are measured on.",
        backends=("cpu",),
        execution="inproc",
        outputs=("regions", "image-grid", "metrics"),
    ))


@hookimpl
def workbench_register_sample_data(registry) -> None:
    registry.add_sample(SampleSpec(
        id="shapes",
        title="Shapes world",
        loader="wb_shapes.world:load_scenes",
        kind="captioned-scenes",
        description="Captioned scenes of 1-4 coloured shapes (10 colours, 7 shapes, 2 sizes) on plain or textured "
                    "backgrounds, with boxes, short and long captions, one-word foils (colour, shape, size, "
                    "relation) and held-out colour-shape combinations; deterministic by seed.",
    ))


@hookimpl
def workbench_register_model_cards(registry) -> None:
    registry.add_zoo_card(ZOO_ID)
