"""Hook implementations of the diffusion plugin: metadata only, no torch or diffusers."""

from __future__ import annotations

from wb_diffusion.params_align import (
    AlignITParams,
    DreamBoothLoraParams,
    LongAlignEncodeParams,
    LongAlignEvaluateParams,
    RewardTuneParams,
    TextualInversionParams,
)
from wb_diffusion.params_base import EvaluateParams, SampleParams, TrainUnetParams, TrainVaeParams
from wb_diffusion.params_pref import DpoParams, MakePairsParams, MapoParams
from workbench.api import Family, TaskSpec, hookimpl

TORCH = ("torch-cuda", "torch-cpu")


def _task(**fields) -> TaskSpec:
    """A diffusion task: torch (unless ``backends`` says more), in a worker subprocess, needing the shapes plugin
    (its world and checker)."""
    return TaskSpec(**{"family": Family.DIFFUSION, "backends": TORCH, "execution": "worker",
                       "requires": ("shapes-clip",), **fields})


@hookimpl
def workbench_register_tasks(registry) -> None:
    """The text-to-image base (training, sampling, evaluation), then preference tuning."""
    # Text-to-image base (diffbase): training the zoo's tiny model, sampling, evaluation.
    registry.add_task(_task(
        id="diffusion.train-vae",
        title="Train the tiny text-to-image model's VAE on shapes scenes",
        entry="wb_diffusion.task_train_vae:run",
        params=TrainVaeParams,
        description="A diffusers AutoencoderKL (32 px images <-> 4x16x16 latents) trained on shapes scenes with "
                    "pixel MSE and a small KL term, resumable; sets the latent scaling factor and saves a diffusers "
                    "folder (optionally published to the zoo as tiny-shapes-vae).",
        outputs=("curves", "image-pairs", "metrics"),
    ))
    registry.add_task(_task(
        id="diffusion.train-unet",
        title="Train the tiny text-to-image model's UNet on captioned shapes scenes",
        entry="wb_diffusion.task_train_unet:run",
        params=TrainUnetParams,
        description="A UNet2DConditionModel (epsilon prediction, DDPM noise schedule) on the frozen VAE's latents, "
                    "conditioned on the tiny CLIP's text tower converted to a CLIPTextModel, caption dropout for "
                    "classifier-free guidance, weight average, resumable; saves a standard "
                    "StableDiffusionPipeline folder (optionally published to the zoo as tiny-shapes-sd).",
        outputs=("curves", "image-grid"),
    ))
    registry.add_task(_task(
        id="diffusion.sample",
        title="Text-to-image sampling",
        entry="wb_diffusion.task_sample:run",
        params=SampleParams,
        description="Images for prompts x seeds from a zoo model, a diffusers folder, a single checkpoint file "
                    "or a hub name, with an optional LoRA; scheduler, steps, guidance and size chosen; saved as "
                    "PNGs carrying prompt and seed plus samples.jsonl. On onnx backends the UNet runs on ONNX "
                    "Runtime (cached, parity-checked export).",
        backends=TORCH + ("onnx-cuda", "onnx-cpu"),
        outputs=("image-grid",),
    ))
    registry.add_task(_task(
        id="diffusion.evaluate",
        title="Prompt following of a text-to-image model on held-out shapes prompts",
        entry="wb_diffusion.task_evaluate:run",
        params=EvaluateParams,
        description="Held-out shapes captions x seeds: the tiny CLIP reward (image/text cosine) and the "
                    "independent checker's prompt-following rate; base vs tuned (another model or a LoRA) on the "
                    "same seeds as a table and base | tuned pairs.",
        outputs=("metrics", "image-pairs", "image-grid"),
    ))
    # --- preference tuning (MaPO, Diffusion-DPO) and its data ---
    registry.add_task(_task(
        id="diffusion.make-pairs",
        title="Preference pairs from the shapes world",
        entry="wb_diffusion.task_pref:run_make_pairs",
        params=MakePairsParams,
        description="Caption, chosen image, rejected image: a one-object shapes scene against a drawn foil of "
                    "its caption, or two model samples ranked by the tiny CLIP; written as a folder + pairs.jsonl "
                    "(Pick-a-Pic layout) that diffusion.mapo and diffusion.dpo read.",
        outputs=("image-grid", "metrics"),
    ))
    tuning = ("Chosen and rejected share noise and timestep; LoRA (peft) or the full UNet; grad accumulation, "
              "clipping, mixed precision on CUDA; checkpoints and resume; base | tuned grids on fixed seeds; the "
              "LoRA saved in diffusers format. Pairs: the shapes world, Pick-a-Pic parquet or a folder + JSONL.")
    registry.add_task(_task(
        id="diffusion.mapo",
        title="MaPO preference tuning (no reference model)",
        entry="wb_diffusion.task_pref:run_mapo",
        params=MapoParams,
        description="Margin-aware preference optimisation: mean chosen error minus beta * log sigmoid of the "
                    "T-scaled bounded-score margin. " + tuning,
        outputs=("curves", "image-grid", "metrics"),
    ))
    registry.add_task(_task(
        id="diffusion.dpo",
        title="Diffusion-DPO preference tuning (baseline)",
        entry="wb_diffusion.task_pref:run_dpo",
        params=DpoParams,
        description="Diffusion-DPO on the same loop and data as MaPO: the reference is the UNet with its LoRA "
                    "off, or a frozen copy. " + tuning,
        outputs=("curves", "image-grid", "metrics"),
    ))
    # --- end of preference tuning ---
    # --- LongAlign and AlignIT (part 2) ---
    registry.add_task(_task(
        id="diffusion.longalign-encode",
        title="LongAlign segment encoding of a long prompt",
        entry="wb_diffusion.task_longalign:run",
        params=LongAlignEncodeParams,
        description="Splits a prompt past the CLIP context into sentences, encodes each, merges the rows (start "
                    "tokens kept, end/pad dropped, padded with the mean empty-prompt pad embedding) as LongAlign "
                    "does; the segment table, what each merged row carries, and plain (truncated) vs segment "
                    "encoding images on the same seeds.",
        outputs=("metrics", "image-pairs"),
    ))
    registry.add_task(_task(
        id="diffusion.alignit",
        title="AlignIT: customised concepts without drifting the rest of the prompt",
        entry="wb_diffusion.task_alignit:run",
        params=AlignITParams,
        description="Generates with the concept tokens' cross-attention keys and values from the customised "
                    "model (textual inversion, DreamBooth folder or LoRA) on a short concept prompt and every "
                    "other token's from the base model; base | customised | AlignIT on the same seeds, "
                    "cross-attention maps per token and the per-token K/V drift.",
        outputs=("image-grid", "heatmap-grid", "token-scores"),
    ))
    registry.add_task(_task(
        id="diffusion.textual-inversion",
        title="Textual inversion: a new token for a concept",
        entry="wb_diffusion.train_concept:run",
        params=TextualInversionParams,
        description="Learns one new token's embedding from a few images (a shapes-world object or a folder), the "
                    "model frozen; resumable; saves a {token: vector} file that diffusion.alignit and "
                    "pipe.load_textual_inversion read; before/after samples on the same seeds.",
        outputs=("curves", "image-grid"),
    ))
    registry.add_task(_task(
        id="diffusion.dreambooth-lora",
        title="DreamBooth-LoRA: a rare word for a concept",
        entry="wb_diffusion.train_concept:run_dreambooth",
        params=DreamBoothLoraParams,
        description="A LoRA on the UNet learns '<token> <class word>' from a few images (a shapes-world object or a "
                    "folder), without prior preservation; resumable; saved in diffusers format for "
                    "diffusion.alignit (customisation=lora) and pipe.load_lora_weights; before/after samples.",
        outputs=("curves", "image-grid"),
    ))
    registry.add_task(_task(
        id="diffusion.longalign-reward",
        title="LongAlign reward tuning with the omega-reweighted CLIP score",
        entry="wb_diffusion.reward_tune:run",
        params=RewardTuneParams,
        description="LoRA fine-tuning that maximises a CLIP reward whose text-irrelevant part is down-weighted by "
                    "omega (0.3; 1 is the plain reward), gradients through a few DDIM steps with checkpointing, "
                    "segment-encoded long prompts; reward and its parts logged; base | tuned on the same seeds.",
        outputs=("curves", "image-grid"),
    ))
    registry.add_task(_task(
        id="diffusion.longalign-evaluate",
        title="Late-described objects of long prompts: plain vs segments",
        entry="wb_diffusion.task_longalign_eval:run",
        params=LongAlignEvaluateParams,
        description="Long captions of held-out shapes scenes (past the 77-token context) sampled with the plain "
                    "and the segment encoding on the same seeds; the independent shapes checker says which "
                    "objects appear, split into those described before and after the cut; the CLIP reward and "
                    "its omega split beside. An optional LoRA (e.g. from diffusion.longalign-reward).",
        outputs=("metrics", "image-pairs"),
    ))
    # --- end of LongAlign and AlignIT ---


@hookimpl
def workbench_register_model_cards(registry) -> None:
    """The zoo's tiny text-to-image model and its VAE (recipe ``zoo-tiny-shapes-sd``)."""
    registry.add_zoo_card("tiny-shapes-vae")
    registry.add_zoo_card("tiny-shapes-sd")
