"""Parameter models of the text-to-image base tasks (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.api import VersionedParams

_TRAINING_GROUPS = {"Data": ["data_seed", "image_size", "max_objects"], "Training": ["lr", "warmup_steps"],
                    "Advanced": ["checkpoint_every", "stop_after", "resume", "threads"]}
_SAMPLING = ["seeds", "steps", "guidance_scale", "scheduler", "height", "width", "batch_size"]


class ShapesFields(BaseModel):
    """Which captioned shapes scenes a trainer draws: step ``k`` takes train scenes ``k*B .. k*B+B-1``."""

    data_seed: int = Field(0, ge=0, description="seed of the shapes world")
    image_size: int = Field(32, ge=16, le=256, description="scene size in pixels (the VAE halves it)")
    max_objects: int = Field(2, ge=1, le=4, description="objects per scene, 1 to this many")


class TrainingFields(BaseModel):
    """The resumable loop (the run context's checkpoint lifecycle)."""

    steps: int = Field(2000, ge=1, le=10_000_000, description="optimizer steps")
    batch_size: int = Field(32, ge=1, le=4096, description="scenes per step")
    lr: float = Field(5e-4, gt=0, le=1.0, description="AdamW learning rate (linear warmup, then constant)")
    warmup_steps: int = Field(100, ge=0)
    checkpoint_every: int = Field(250, ge=1, description="steps between checkpoints (and loss curves)")
    stop_after: int = Field(0, ge=0, description="end this session after this many steps in total (0: run to "
                                                 "'steps'); continue later with resume")
    resume: str = Field("", description="a training checkpoint or its run folder")
    threads: int = Field(0, ge=0, le=256, description="torch CPU threads (0: torch's default)")
    publish: bool = Field(False, description="put the trained model into the user's zoo ($WORKBENCH_ZOO)")


class TrainVaeParams(VersionedParams, ShapesFields, TrainingFields):
    """An AutoencoderKL (32/64 channels, 4 latent channels, scale factor 2) on shapes scenes."""

    model_config = ConfigDict(json_schema_extra={"groups": _TRAINING_GROUPS})

    kl_weight: float = Field(1e-6, ge=0, le=1.0, description="weight of the KL term beside the pixel MSE")


class TrainUnetParams(VersionedParams, ShapesFields, TrainingFields):
    """A text-conditioned UNet2DConditionModel on the VAE's latents, conditioned on the tiny CLIP's text states."""

    model_config = ConfigDict(json_schema_extra={"groups": {
        **_TRAINING_GROUPS, "Training": ["lr", "warmup_steps", "channels", "caption_dropout", "ema_decay"],
        "Advanced": [*_TRAINING_GROUPS["Advanced"], "preview_steps"]}, "paths": {"vae": "dir"}})

    vae: str = Field("tiny-shapes-vae", description="the frozen VAE: a zoo id or an AutoencoderKL folder")
    clip: str = Field("tiny-clip", description="zoo id of the CLIP whose text tower conditions the UNet")
    channels: list[int] = Field(default_factory=lambda: [32, 64], description="UNet block widths (the second "
                                                                               "level has cross-attention)")
    caption_dropout: float = Field(0.1, ge=0, le=1, description="share of empty captions (for classifier-free "
                                                                "guidance)")
    ema_decay: float = Field(0.999, ge=0, lt=1, description="decay of the weight average that is saved")
    model_id: str = Field("tiny-shapes-sd", description="zoo id when published")
    preview_steps: int = Field(25, ge=1, le=1000, description="DDIM steps of the final sample grid")


class SourceFields(BaseModel):
    """Which text-to-image model: any source :func:`wb_diffusion.pipelines.load_pipeline` reads, plus a LoRA."""

    model: str = Field("tiny-shapes-sd", description="zoo id, diffusers pipeline folder, .safetensors checkpoint "
                                                     "(with config), tiny-random, or a hub name when online")
    config: str = Field("", description="for a single-file checkpoint: the diffusers folder (or zoo id) whose "
                                        "configs and other components it uses")
    lora: str = Field("", description="a diffusers LoRA file or folder loaded on top (pipe.load_lora_weights)")


class SamplerFields(BaseModel):
    """How images are drawn."""

    seeds: list[int] = Field(default_factory=lambda: [0, 1], description="one image per prompt and seed")
    steps: int = Field(25, ge=1, le=1000, description="denoising steps")
    guidance_scale: float = Field(5.0, ge=0, le=50, description="classifier-free guidance (1: none)")
    scheduler: Literal["ddim", "ddpm", "euler", "dpm++", "unipc"] = Field("ddim", description="sampler, built "
                                                                                              "from the model's "
                                                                                              "noise schedule")
    height: int = Field(0, ge=0, le=4096, description="pixels; 0: the model's own size")
    width: int = Field(0, ge=0, le=4096, description="pixels; 0: the model's own size")
    batch_size: int = Field(8, ge=1, le=256, description="seeds of one prompt drawn in one pipeline call (each "
                                                         "seed keeps its own generator: the images do not depend "
                                                         "on it; lower it if memory runs out)")


class SampleParams(VersionedParams, SourceFields, SamplerFields):
    """Text-to-image sampling: a grid, PNGs with prompt and seed in their metadata, ``samples.jsonl``."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Sampling": _SAMPLING, "Source": ["config", "lora"]},
        "paths": {"model": "dir", "config": "dir", "lora": "file"}})

    prompts: list[str] = Field(default_factory=list, description="prompts (with or instead of prompts_file)")
    prompts_file: str = Field("", description="a text file with one prompt per line")


class EvaluateParams(VersionedParams, SourceFields, SamplerFields):
    """Prompt following on held-out shapes prompts: the tiny CLIP's image/text cosine (and the independent checker
    when installed), for one model or base vs tuned on the same seeds."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Source": ["config", "lora", "tuned_lora"], "Prompts": ["max_objects", "data_seed"],
                   "Sampling": _SAMPLING},
        "paths": {"model": "dir", "config": "dir", "lora": "file", "tuned_model": "dir",
                  "tuned_lora": "file"}})

    tuned_model: str = Field("", description="a second source compared on the same prompts and seeds (empty: "
                                             "'model' again, with tuned_lora)")
    tuned_lora: str = Field("", description="a LoRA for the second source (base vs base+LoRA)")
    n_prompts: int = Field(16, ge=1, le=10_000, description="held-out prompts: captions of shapes test scenes")
    max_objects: int = Field(1, ge=1, le=4, description="objects in the scenes the prompts describe")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world")
    clip: str = Field("tiny-clip", description="zoo id of the CLIP whose cosine is the reward")
