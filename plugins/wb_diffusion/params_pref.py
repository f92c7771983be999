"""Parameter models of the preference tasks (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.api import VersionedParams

LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
TUNING_GROUPS = {
    "Data": ["pairs", "n_pairs", "data_seed", "keep_ties", "sizes"],
    "Training": ["steps", "batch_size", "grad_accum", "lr", "resolution", "hflip", "lora", "lora_rank", "lora_alpha",
                 "init_lora"],
    "Sample grids": ["sample_every", "sample_prompts", "sample_seed", "sample_steps", "guidance"],
    "Advanced": ["weight_decay", "max_grad_norm", "mixed_precision", "lora_targets", "checkpoint_every",
                 "export_merged", "stop_after", "resume"],
}


class PairsFields(BaseModel):
    """Where the preference pairs come from."""

    pairs: str = Field("shapes", description="'shapes' (generated one-object shapes scenes vs a drawn foil), "
                                             "'shapes-swap' (the same scene redrawn in another shape), a "
                                             "Pick-a-Pic-style .parquet file, a .jsonl file or a folder with "
                                             "pairs.jsonl")
    n_pairs: int = Field(64, ge=1, le=100_000, description="with pairs=shapes or shapes-swap: how many pairs")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world and of the data order")
    keep_ties: bool = Field(False, description="keep pairs with label_0 = 0.5 (image 0 then counts as chosen)")
    sizes: Literal["error", "resize"] = Field("error", description="a pair whose two images differ in size: "
                                                                   "refuse it, or resize the rejected image")


class PreferenceTuneParams(VersionedParams, PairsFields):
    """What MaPO and Diffusion-DPO share: the model, the loop, checkpoints and sample grids."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir", "pairs": "file", "init_lora": "file"}, "groups": TUNING_GROUPS})

    model: str = Field("tiny-shapes-sd", description="the zoo's tiny shapes model, 'tiny-random', "
                                                     "'tiny-random-sdxl' or a diffusers pipeline folder")
    steps: int = Field(200, ge=1, le=1_000_000, description="optimizer steps")
    batch_size: int = Field(4, ge=1, le=1024, description="pairs per micro-batch")
    grad_accum: int = Field(1, ge=1, le=1024, description="micro-batches per optimizer step")
    lr: float = Field(1e-4, gt=0, description="AdamW learning rate (constant)")
    weight_decay: float = Field(1e-2, ge=0)
    max_grad_norm: float = Field(1.0, ge=0, description="gradient clipping norm (0: none)")
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = Field(
        "auto", description="autocast on CUDA (auto: bf16 where supported, else fp16); CPU trains in fp32")
    resolution: int = Field(0, ge=0, le=4096, description="training images' side in pixels (centre crop, "
                                                          "bicubic resize); 0: the UNet's native resolution")
    hflip: bool = Field(True, description="flip a pair's two images together at random")
    lora: bool = Field(True, description="train a LoRA (peft) instead of the full UNet")
    lora_rank: int = Field(4, ge=1, le=1024)
    lora_alpha: float = Field(0.0, ge=0, description="LoRA alpha (0: the rank)")
    init_lora: str = Field("", description="start from this saved LoRA (its own rank, alpha and targets) instead of a "
                                           "new one: a second round on pairs drawn from the tuned model (DPO's "
                                           "reference stays the base, adapters off)")
    lora_targets: list[str] = Field(default_factory=lambda: list(LORA_TARGETS), description="UNet modules "
                                                                                           "that get a LoRA")
    checkpoint_every: int = Field(50, ge=1, description="steps between resumable checkpoints")
    sample_every: int = Field(50, ge=0, description="steps between base | tuned sample grids (0: only at the end)")
    sample_prompts: list[str] = Field(default_factory=list, description="prompts of the grids (empty: the first "
                                                                        "four captions of the pairs)")
    sample_seed: int = Field(0, ge=0, description="seed of the grids' first prompt (then +1 per prompt)")
    sample_steps: int = Field(20, ge=1, le=1000, description="denoising steps of the grids")
    guidance: float = Field(5.0, ge=0, description="classifier-free guidance of the grids")
    export_merged: bool = Field(False, description="also save the UNet with the LoRA merged (save_pretrained)")
    stop_after: int = Field(0, ge=0, description="end this session after this many steps in total (0: run to "
                                                 "'steps'); continue later with resume")
    resume: str = Field("", description="a training checkpoint or its run folder")

    @model_validator(mode="after")
    def _init_lora_needs_lora(self) -> PreferenceTuneParams:
        if self.init_lora and not self.lora:
            raise ValueError(f"init_lora={self.init_lora}: continues a LoRA, so it needs lora=true")
        return self


class MapoParams(PreferenceTuneParams):
    """MaPO: margin-aware preference optimisation, no reference model."""

    beta: float = Field(0.1, ge=0, description="weight of the margin term (beta_mapo)")
    lam: float = Field(0.5, gt=0, description="lambda of the bounded score s = lam*l / expm1(lam*l)")
    multiplier: float = Field(0.0, ge=0, description="T, the margin multiplier (0: the scheduler's "
                                                     "num_train_timesteps)")


class DpoParams(PreferenceTuneParams):
    """Diffusion-DPO: the reference is the same UNet with adapters off (LoRA) or a frozen copy."""

    beta_dpo: float = Field(2500.0, gt=0, description="DPO's beta (2500 in diffusers' example)")


class MakePairsParams(VersionedParams):
    """Preference pairs for the shapes world, written as a folder + pairs.jsonl."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir", "lora": "file", "reward": "", "out": "dir"},
        "groups": {"Data": ["data_seed", "split", "image_size", "foil_kinds", "out"],
                   "Sampling": ["model", "lora", "reward", "k", "pairs_per_caption", "min_margin", "steps",
                                "guidance"]},
        "show_when": {
        **{name: {"source": ["foils"]} for name in ("image_size", "foil_kinds")},
        **{name: {"source": ["samples"]} for name in ("model", "lora", "reward", "k", "pairs_per_caption",
                                                      "min_margin", "steps", "guidance")}}})

    source: Literal["foils", "samples"] = Field("foils", description="foils: chosen = the scene, rejected = a "
                                                                     "drawn foil; samples: two model samples per "
                                                                     "caption ranked by a CLIP reward")
    n: int = Field(64, ge=1, le=100_000, description="pairs")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world")
    split: Literal["train", "test", "novel"] = Field("train")
    out: str = Field("", description="folder the pairs are written to (empty: the run's artifacts/pairs); a fixed "
                                     "folder lets a later recipe step read them as pairs=<folder>")
    image_size: int = Field(32, ge=16, le=512, description="scene size in pixels (foils)")
    foil_kinds: list[Literal["colour", "shape", "size"]] = Field(default_factory=lambda: ["colour", "shape", "size"])
    model: str = Field("tiny-shapes-sd", description="samples: the text-to-image model (as in diffusion.mapo)")
    lora: str = Field("", description="samples: a LoRA loaded on the model (pairs drawn from a tuned model: the "
                                      "next online round)")
    reward: str = Field("tiny-clip", description="samples: what ranks them: a CLIP's image/text cosine (zoo id or "
                                                "local-dir:) or a zoo reward model (shapes-reward: sees shape)")
    k: int = Field(2, ge=2, le=64, description="samples: images drawn per caption; chosen = the best by the "
                                               "reward, rejected = the worst")
    pairs_per_caption: int = Field(1, ge=1, le=32, description="samples: pairs made of one caption's k samples: "
                                                               "best vs worst, then 2nd best vs 2nd worst, .. "
                                                               "(at most k/2)")
    min_margin: float = Field(0.0, ge=0, le=1000, description="samples: drop a pair whose two rewards differ by "
                                                              "less than this")
    steps: int = Field(20, ge=1, le=1000, description="samples: denoising steps")
    guidance: float = Field(5.0, ge=0, description="samples: classifier-free guidance")

    @model_validator(mode="after")
    def _pairs_fit_in_k(self) -> MakePairsParams:
        if self.pairs_per_caption > self.k // 2:
            raise ValueError(f"pairs_per_caption={self.pairs_per_caption}: at most k/2 = {self.k // 2} with "
                             f"k={self.k}, so that no sample is in two pairs")
        return self
