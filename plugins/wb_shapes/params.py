"""Parameter models of the shapes/CLIP plugin (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainClipParams(BaseModel):
    """Train the tiny CLIP contrastively on freshly drawn shapes-world scenes (the zoo recipe's defaults)."""

    model_config = ConfigDict(extra="forbid")

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
                                                 "`steps`); continue later with resume_from")
    resume_from: str = Field("", description="a checkpoint.pt (or a run folder holding artifacts/checkpoint.pt) "
                                             "to continue from")
    eval_every: int = Field(100, ge=1, description="steps between quick held-out checks (foils, retrieval)")
    threads: int = Field(0, ge=0, le=256, description="torch CPU threads; 0 keeps torch's default")
    final_eval_scenes: int = Field(500, ge=10, le=20_000, description="test scenes of the final held-out "
                                                                      "measurement (see clip.evaluate)")
    save_to_zoo: bool = Field(False, description="also write weights and card into models/tiny-clip/")


class EvaluateClipParams(BaseModel):
    """Measure a CLIP on held-out shapes-world scenes: zero-shot colour/shape, retrieval, foils, novel combos."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("tiny-clip", description="open_clip architecture, 'tiny-clip' (zoo) or 'local-dir:/folder'")
    weights: str = Field("", description="local weights file (or hub tag when online); empty: the zoo / folder's own")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world (test and novel splits are used)")
    n_single: int = Field(400, ge=10, le=20_000, description="one-object test scenes for zero-shot colour/shape")
    n_scenes: int = Field(500, ge=10, le=20_000, description="test scenes for caption retrieval and foils")
    n_novel: int = Field(300, ge=10, le=20_000, description="one-object scenes of held-out colour-shape combinations")
    image_size: int = Field(64, ge=32, le=224, description="scene size in pixels")
    batch_size: int = Field(256, ge=1, le=4096, description="encoder batch size")
    update_card: bool = Field(False, description="write the measured metrics into models/tiny-clip/card.json")


class BrowseScenesParams(BaseModel):
    """Look at shapes-world scenes with their ground truth: boxes, captions and foils."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["train", "test", "novel"] = Field("test", description="which split to draw from")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world")
    start: int = Field(0, ge=0, description="index of the first scene")
    count: int = Field(16, ge=1, le=256, description="how many scenes to show")
    image_size: int = Field(64, ge=32, le=512, description="scene size in pixels")
