"""Parameter models of the shapes/CLIP plugin (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.api import VersionedParams

_TRAINING_ADVANCED = ["checkpoint_every", "stop_after", "resume", "threads"]


class TrainClipParams(VersionedParams):
    """Train the tiny CLIP contrastively on freshly drawn shapes-world scenes (the zoo recipe's defaults)."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Training": ["lr", "warmup_steps", "weight_decay"],
                   "Data": ["data_seed", "image_size", "foil_negatives", "long_caption_fraction",
                            "single_object_fraction", "shape_foil_share", "counterfactual_fraction",
                            "drop_size_fraction"],
                   "Evaluation": ["eval_every", "final_eval_scenes"], "Advanced": _TRAINING_ADVANCED}})

    revision = 2
    renamed = {"resume_from": (2, "resume"), "save_to_zoo": (2, "publish")}

    steps: int = Field(600, ge=1, le=200_000, description="optimizer steps; each draws a batch of new train scenes")
    batch_size: int = Field(128, ge=2, le=4096, description="scenes per step (the contrastive batch)")
    lr: float = Field(1e-3, gt=0, le=1.0, description="AdamW peak learning rate (linear warmup, cosine decay)")
    warmup_steps: int = Field(40, ge=0, description="linear warmup steps")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (not on norms, biases, embeddings)")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world; scenes come from its train split")
    image_size: int = Field(64, ge=32, le=224, description="scene size in pixels (the tiny CLIP expects 64)")
    foil_negatives: bool = Field(True, description="add one foil caption per scene as an extra negative "
                                                   "(NegCLIP-style hard negatives)")
    long_caption_fraction: float = Field(0.15, ge=0, le=1, description="share of scenes captioned with their "
                                                                         "long caption (truncated to 77 tokens)")
    single_object_fraction: float = Field(0.0, ge=0, le=1, description="share of each batch drawn as one-object "
                                                                         "scenes (a clean shape-word signal)")
    shape_foil_share: float = Field(0.0, ge=0, le=1, description="probability that a scene's foil negative is its "
                                                                 "shape foil (0: the foil kind is uniform)")
    counterfactual_fraction: float = Field(0.0, ge=0, le=1, description="share of scenes that also come redrawn "
                                           "with their shape foil made true, paired with that foil (hard negative "
                                           "images)")
    drop_size_fraction: float = Field(0.3, ge=0, le=1, description="share of short captions without size words")
    checkpoint_every: int = Field(100, ge=1, description="steps between resumable checkpoints")
    stop_after: int = Field(0, ge=0, description="end this session after this many steps in total (0: run to "
                                                 "`steps`); continue later with resume")
    resume: str = Field("", description="a training checkpoint (artifacts/checkpoint.pt) or its run folder")
    eval_every: int = Field(100, ge=1, description="steps between quick held-out checks (foils, retrieval)")
    threads: int = Field(0, ge=0, le=256, description="torch CPU threads; 0 keeps torch's default")
    final_eval_scenes: int = Field(500, ge=10, le=20_000, description="test scenes of the final held-out "
                                                                      "measurement (see clip.evaluate)")
    publish: bool = Field(False, description="publish the model and card as zoo model 'tiny-clip' in the user's zoo "
                                             "($WORKBENCH_HOME/models; a previous version is kept)")


class EvaluateClipParams(VersionedParams):
    """Measure a CLIP on held-out shapes-world scenes: zero-shot colour/shape, retrieval, foils, novel combos."""

    model_config = ConfigDict(json_schema_extra={
        "paths": {"model": ""},
        "groups": {"Data": ["data_seed", "n_single", "n_scenes", "n_novel", "image_size"],
                   "Advanced": ["batch_size"]}})

    model: str = Field("tiny-clip", description="zoo model id, open_clip architecture or 'local-dir:/folder'")
    weights: str = Field("", description="local weights file (or hub tag when online); empty: the zoo / folder's own")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world (test and novel splits are used)")
    n_single: int = Field(400, ge=10, le=20_000, description="one-object test scenes for zero-shot colour/shape")
    n_scenes: int = Field(500, ge=10, le=20_000, description="test scenes for caption retrieval and foils")
    n_novel: int = Field(300, ge=10, le=20_000, description="one-object scenes of held-out colour-shape combinations")
    image_size: int = Field(64, ge=32, le=224, description="scene size in pixels")
    batch_size: int = Field(256, ge=1, le=4096, description="encoder batch size")
    update_card: bool = Field(False, description="write the measured metrics into the card of `model` in the user's "
                                                 "zoo (the shipped zoo is read-only)")


class BrowseScenesParams(VersionedParams):
    """Look at shapes-world scenes with their ground truth: boxes, captions and foils."""

    split: Literal["train", "test", "novel"] = Field("test", description="which split to draw from")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world")
    start: int = Field(0, ge=0, description="index of the first scene")
    count: int = Field(16, ge=1, le=256, description="how many scenes to show")
    image_size: int = Field(64, ge=32, le=512, description="scene size in pixels")


class SceneTrainingFields(BaseModel):
    """What the checker's and the reward model's training share: scene size, checkpoints, held-out checks, resume."""

    image_size: int = Field(32, ge=16, le=128, description="scene size in pixels (the tiny diffusion model's)")
    checkpoint_every: int = Field(250, ge=1, description="steps between resumable checkpoints")
    eval_every: int = Field(250, ge=1, description="steps between quick held-out checks")
    eval_scenes: int = Field(1000, ge=10, le=20_000, description="test scenes of the final held-out measurement")
    stop_after: int = Field(0, ge=0, description="end this session after this many steps in total (0: run to "
                                                 "`steps`); continue later with resume")
    resume: str = Field("", description="a training checkpoint (artifacts/checkpoint.pt) or its run folder")
    threads: int = Field(0, ge=0, le=256, description="torch CPU threads; 0 keeps torch's default")


class TrainCheckerParams(VersionedParams, SceneTrainingFields):
    """Train the independent shapes checker (count, colours, shapes, combinations) on the world's ground truth."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Training": ["lr", "weight_decay", "width", "augment"],
                   "Data": ["image_size", "data_seed", "single_fraction", "novel_fraction"],
                   "Evaluation": ["eval_every", "eval_scenes"], "Advanced": _TRAINING_ADVANCED}})

    steps: int = Field(1600, ge=1, le=200_000, description="optimizer steps; each draws a batch of new train scenes")
    batch_size: int = Field(128, ge=2, le=4096, description="scenes per step")
    lr: float = Field(3e-3, gt=0, le=1.0, description="AdamW peak learning rate (one-cycle schedule)")
    weight_decay: float = Field(5e-4, ge=0, description="AdamW weight decay")
    width: int = Field(16, ge=4, le=256, description="channels of the first conv block")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world; scenes come from its train split")
    single_fraction: float = Field(0.2, ge=0, le=1, description="share of each batch drawn as one-object scenes "
                                   "(own index range of the train split)")
    novel_fraction: float = Field(0.1, ge=0, le=0.5, description="share of each batch drawn from the novel split "
                                  "(own index range), so the checker can judge the held-out combinations")
    augment: float = Field(1.0, ge=0, le=2, description="strength of the shift/zoom/blur/colour/noise "
                                                        "augmentation (0: clean renders)")
    publish: bool = Field(False, description="publish the weights and card as zoo model 'shapes-checker' in the "
                                             "user's zoo ($WORKBENCH_HOME/models; a previous version is kept)")


class TrainRewardParams(VersionedParams, SceneTrainingFields):
    """Train the shapes reward model (colours, shapes and count of a whole picture) on the world's ground truth."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Training": ["lr", "weight_decay", "width", "augment"],
                   "Data": ["image_size", "data_seed", "single_fraction"],
                   "Evaluation": ["eval_every", "eval_scenes"], "Advanced": _TRAINING_ADVANCED}})

    steps: int = Field(1500, ge=1, le=200_000, description="optimizer steps; each draws a batch of new train scenes")
    batch_size: int = Field(64, ge=2, le=4096, description="scenes per step")
    lr: float = Field(2e-3, gt=0, le=1.0, description="AdamW peak learning rate (one-cycle schedule)")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay")
    width: int = Field(32, ge=4, le=256, description="channels of the first conv block")
    data_seed: int = Field(1, ge=0, description="seed of the shapes world (1: another draw than the checker's 0)")
    single_fraction: float = Field(0.5, ge=0, le=1, description="share of each batch drawn as one-object scenes "
                                   "(own index range of the train split)")
    augment: float = Field(1.5, ge=0, le=2, description="strength of the checker's shift/zoom/blur/colour/noise "
                                                        "augmentation (0: clean renders)")
    publish: bool = Field(False, description="publish the weights and card as zoo model 'shapes-reward' in the "
                                             "user's zoo ($WORKBENCH_HOME/models; a previous version is kept)")
