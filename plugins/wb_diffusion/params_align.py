"""Parameter models of the LongAlign encoding and AlignIT tasks (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.api import VersionedParams


class SamplingFields(BaseModel):
    """The sampling every comparison shares: same seeds on both sides."""

    model: str = Field("tiny-shapes-sd", description="the zoo's tiny shapes model, 'tiny-random' or a diffusers "
                                                     "pipeline folder (SD 1.x/2.x)")
    seeds: list[int] = Field([0, 1], min_length=1, max_length=64, description="one image per seed, same seeds for "
                                                                               "every variant")
    steps: int = Field(20, ge=1, le=1000, description="denoising steps")
    guidance: float = Field(5.0, ge=0, description="classifier-free guidance scale")
    size: int = Field(0, ge=0, le=4096, description="image side in pixels (0: the model's own)")


class LongAlignEncodeParams(VersionedParams, SamplingFields):
    """A long prompt encoded segment by segment, next to the plain (truncated) encoding."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir"},
        "groups": {"Sampling": ["seeds", "steps", "guidance", "size"]},
        "show_when": {name: {"sample": [True]} for name in ("seeds", "steps", "guidance", "size", "negative_prompt")}})

    prompt: str = Field("a red circle in the top left. a blue square in the bottom right. a green triangle in the "
                        "middle.", description="the (long) prompt")
    negative_prompt: str = Field("", description="encoded the same way")
    split: Literal["reference", "sentences"] = Field(
        "reference", description="reference: LongAlign's own split (on '.' and '?', so '3.5' and 'Dr.' split too); "
                                 "sentences: after . ! ? ; followed by a space, decimals and abbreviations kept")
    token_length: int = Field(240, ge=1, le=4096, description="merged sequence length (LongAlign's runs: 240)")
    sample: bool = Field(True, description="also sample with the plain and the segment encoding on the same seeds")


class AlignITParams(VersionedParams, SamplingFields):
    """A customised concept generated with and without AlignIT on the same seeds."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir", "custom": "file"}, "groups": {
        "Splice": ["template", "stand_in", "layers", "splice_keys", "splice_values", "splice_unconditional",
                   "end_rows"],
        "Sampling": ["seeds", "steps", "guidance", "size"],
        "Views": ["attention_maps", "judge_as"]}})

    customisation: Literal["textual-inversion", "dreambooth", "lora"] = Field(
        "textual-inversion", description="textual-inversion: an embedding file for the concept token on top of "
                                         "`model`; dreambooth: a fine-tuned diffusers pipeline folder; lora: a "
                                         "diffusers LoRA file on top of `model`")
    custom: str = Field(..., description="the embedding file, pipeline folder or LoRA file")
    concept: str = Field("<concept>", description="the concept token as the prompt writes it")
    prompt: str = Field("a <concept> next to a blue square", description="must contain the concept")
    template: str = Field("a photo of {}", description="the concept prompt; {} is the concept")
    stand_in: str = Field("", description="the word the base branch reads in the concept's place (as many "
                                          "tokens); empty: the concept itself (DreamBooth's rare word)")
    layers: list[str] = Field([], description="cross-attention layers that splice, by name part (e.g. "
                                              "'up_blocks'); empty: all")
    splice_keys: bool = Field(True, description="take the concept's keys from the customised model")
    splice_values: bool = Field(True, description="take the concept's values from the customised model")
    splice_unconditional: bool = Field(False, description="also splice the unconditional half of the CFG batch")
    end_rows: Literal["base", "concept", "delta"] = Field(
        "base", description="the prompt's end-of-text and padding rows (not in the paper, where a causal text "
                            "encoder summarises the prompt): base (the paper); concept: spliced from the customised "
                            "model on the concept prompt; delta: the base's plus the customised minus the base "
                            "encoder's on the concept prompt (a text-encoder customisation only)")
    attention_maps: bool = Field(True, description="record the cross-attention maps per token")
    judge_as: str = Field("", description="the shapes-world object the concept stands for (e.g. 'red star'): the "
                                          "independent shapes checker then judges the three variants on the "
                                          "prompt with the concept read as that object")


class ConceptFields(BaseModel):
    """What textual inversion and DreamBooth-LoRA share: the concept's images and the training loop."""

    model: str = Field("tiny-shapes-sd", description="the zoo's tiny shapes model, 'tiny-random' or a diffusers "
                                                     "pipeline folder (SD 1.x/2.x)")
    images: str = Field("shapes:red star", description="'shapes:<colour> <shape>' (one-object shapes scenes of "
                                                       "that object) or a folder of images")
    n_images: int = Field(16, ge=1, le=10_000, description="with images=shapes:...: how many scenes")
    templates: list[str] = Field(["a photo of {}", "a {}", "a picture of a {}", "a drawing of a {}"], min_length=1,
                                 description="captions of the training images; {} is the concept")
    steps: int = Field(300, ge=1, le=1_000_000)
    batch_size: int = Field(4, ge=1, le=256)
    checkpoint_every: int = Field(50, ge=1)
    stop_after: int = Field(0, ge=0, description="end this session after this many steps in total (0: run to "
                                                 "'steps'); continue later with resume")
    resume: str = Field("", description="a training checkpoint or its run folder")
    sample_seeds: list[int] = Field([0, 1, 2, 3], max_length=16, description="seeds of the before/after grid")
    sample_steps: int = Field(20, ge=1, le=1000)


CONCEPT_GROUPS = {"Training": ["steps", "batch_size", "lr", "templates", "lora_rank"],
                  "Advanced": ["checkpoint_every", "stop_after", "resume", "sample_seeds", "sample_steps"]}


class TextualInversionParams(VersionedParams, ConceptFields):
    """Learn one new token's embedding from a few images of a concept (the base model stays frozen)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir", "images": "dir"},
        "groups": {**CONCEPT_GROUPS, "Training": [n for n in CONCEPT_GROUPS["Training"] if n != "lora_rank"]}})

    token: str = Field("<concept>", description="the new token; must not be in the tokenizer yet")
    init_word: str = Field("star", description="its embedding starts as this word's (mean over its tokens)")
    lr: float = Field(5e-3, gt=0, description="AdamW learning rate of the embedding (no weight decay)")


class DreamBoothLoraParams(VersionedParams, ConceptFields):
    """A LoRA on the UNet that ties a rare word plus a class word to the concept (DreamBooth, without prior
    preservation)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir", "images": "dir"}, "groups": CONCEPT_GROUPS})

    token: str = Field("sks", description="the rare word naming the concept (already in the vocabulary)")
    class_word: str = Field("star", description="the class noun after it: the concept is '<token> <class_word>'")
    lora_rank: int = Field(4, ge=1, le=256)
    lr: float = Field(1e-4, gt=0, description="AdamW learning rate of the LoRA")


class RewardTuneParams(VersionedParams):
    """LongAlign's reward fine-tuning: a CLIP-style reward with its text-irrelevant part down-weighted by omega."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir", "reward_model": "", "prompts": "file"}, "groups": {
        "Prompts": ["prompts", "segment_encoding", "segment_reward", "token_length"],
        "Training": ["steps", "batch_size", "sample_steps", "grad_steps", "guidance", "lr", "lora_rank"],
        "Advanced": ["max_grad_norm", "checkpoint_every", "stop_after", "resume", "eval_seeds"]}})

    model: str = Field("tiny-shapes-sd", description="the zoo's tiny shapes model, 'tiny-random' or a diffusers "
                                                     "pipeline folder (SD 1.x/2.x)")
    reward_model: str = Field("tiny-clip", description="the CLIP giving the reward (zoo id or open_clip name)")
    omega: float = Field(0.3, ge=0, le=1, description="weight of the text-irrelevant part (1: the plain reward)")
    prompts: str = Field("shapes-long", description="'shapes-long' (long shapes-world captions, fresh each step) "
                                                   "or a text file with one prompt per line")
    segment_encoding: bool = Field(True, description="condition the UNet on LongAlign's segment encoding")
    segment_reward: bool = Field(True, description="the text embedding is the mean of the segments' unit "
                                                   "embeddings (Denscore); off: the whole (truncated) prompt")
    token_length: int = Field(240, ge=1, le=4096, description="segment encoding length")
    steps: int = Field(100, ge=1, le=1_000_000, description="optimizer steps")
    batch_size: int = Field(2, ge=1, le=256, description="prompts per step")
    sample_steps: int = Field(10, ge=2, le=1000, description="DDIM steps of each training sample")
    grad_steps: int = Field(2, ge=1, le=1000, description="denoising steps that carry gradient (evenly spaced, "
                                                          "random offset); the UNet input is detached")
    guidance: float = Field(5.0, ge=0, description="classifier-free guidance while sampling")
    lr: float = Field(3e-5, gt=0)
    lora_rank: int = Field(4, ge=1, le=256)
    max_grad_norm: float = Field(0.3, ge=0, description="gradient clipping (0: none)")
    checkpoint_every: int = Field(25, ge=1)
    stop_after: int = Field(0, ge=0, description="end this session after this many steps in total (0: run to "
                                                 "'steps'); continue later with resume")
    resume: str = Field("", description="a training checkpoint or its run folder")
    eval_seeds: list[int] = Field([0, 1], max_length=16, description="seeds of the base | tuned grid")


class LongAlignEvaluateParams(VersionedParams):
    """Late-described objects of long prompts, judged by the independent shapes checker: plain vs segments."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "paths": {"model": "dir", "lora": "file"}, "groups": {
        "Sampling": ["seeds", "steps", "guidance"],
        "Advanced": ["split", "token_length", "omega", "preamble", "data_seed"]}})

    model: str = Field("tiny-shapes-sd", description="the zoo's tiny shapes model, 'tiny-random' or a diffusers "
                                                     "pipeline folder (SD 1.x/2.x)")
    lora: str = Field("", description="a diffusers LoRA (file or folder) to apply, e.g. from "
                                      "diffusion.longalign-reward")
    n_prompts: int = Field(24, ge=1, le=10_000, description="held-out test scenes with 3-4 objects; their long "
                                                            "captions are the prompts")
    seeds: list[int] = Field([0, 1], min_length=1, max_length=16, description="images per prompt")
    steps: int = Field(20, ge=1, le=1000)
    guidance: float = Field(5.0, ge=0)
    split: Literal["reference", "sentences"] = Field("reference", description="segment split rule")
    token_length: int = Field(240, ge=1, le=4096)
    omega: float = Field(0.3, ge=0, le=1, description="for the reward split reported beside the checker")
    preamble: str = Field("This is a small square picture with flat colours and sharp edges. The light is even and "
                          "there are no shadows. Every shape is drawn from above.",
                          description="sentences put before each caption, so that the objects it describes last "
                                      "start past the 77-token context ('' for the captions alone)")
    data_seed: int = Field(0, ge=0)
