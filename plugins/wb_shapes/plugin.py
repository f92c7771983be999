"""Hook implementations of the shapes/CLIP plugin: metadata only, no torch or open_clip."""

from __future__ import annotations

from wb_shapes.params import (
    BrowseScenesParams,
    EvaluateClipParams,
    TrainCheckerParams,
    TrainClipParams,
    TrainRewardParams,
)
from workbench.api import Family, SampleSpec, TaskSpec, hookimpl

ZOO_ID = "tiny-clip"
CHECKER_ID = "shapes-checker"
REWARD_ID = "shapes-reward"


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
    registry.add_task(TaskSpec(
        id="shapes.train-checker",
        title="Train the independent shapes checker",
        family=Family.DATA,
        entry="wb_shapes.train_checker:run",
        params=TrainCheckerParams,
        description="A small CNN that reads the object count and which colours, shapes and colour-shape "
                    "combinations a picture shows, trained on augmented shapes-world renders (not on any text "
                    "model): the judge of text-to-image prompt following. Resumable; publishes 'shapes-checker'.",
        backends=("torch-cuda", "torch-cpu"),
        execution="worker",
        outputs=("curves", "metrics"),
    ))
    registry.add_task(TaskSpec(
        id="shapes.train-reward",
        title="Train the shapes reward model",
        family=Family.DATA,
        entry="wb_shapes.train_reward:run",
        params=TrainRewardParams,
        description="A small CNN that reads which colours and shapes a whole picture shows and how many objects, "
                    "trained on augmented shapes-world renders of another world seed than the checker's: a reward "
                    "that sees shape, for ranking text-to-image samples into preference pairs "
                    "(diffusion.make-pairs reward=shapes-reward). Resumable; publishes 'shapes-reward'.",
        backends=("torch-cuda", "torch-cpu"),
        execution="worker",
        outputs=("curves", "metrics"),
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
    registry.add_sample(SampleSpec(
        id="shapes-ood",
        title="Shapes OOD world",
        loader="wb_shapes.ood_world:load_shapes_ood",
        kind="labelled-images",
        description="One coloured shape per 32 px picture, 12 ID classes (circle, square, triangle, star in red, "
                    "green, blue); near-OOD: hexagons and diamonds in ID colours, ID shapes in orange and purple; "
                    "far-OOD: coloured textures and photo patches. A benchmark where detectors differ.",
    ))


@hookimpl
def workbench_register_model_cards(registry) -> None:
    registry.add_zoo_card(ZOO_ID)
    registry.add_zoo_card(CHECKER_ID)
    registry.add_zoo_card(REWARD_ID)
