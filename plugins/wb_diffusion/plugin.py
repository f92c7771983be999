"""Hook implementations of the diffusion plugin: metadata only, no torch or diffusers."""

from __future__ import annotations

from wb_diffusion.params_base import TrainUnetParams, TrainVaeParams
from workbench.api import Family, TaskSpec, hookimpl

TORCH = ("torch-cuda", "torch-cpu")


@hookimpl
def workbench_register_tasks(registry) -> None:
    # Text-to-image base (diffbase): training the zoo's tiny model, sampling, evaluation.
    registry.add_task(TaskSpec(
        id="diffusion.train-vae",
        title="Train the tiny text-to-image model's VAE on shapes scenes",
        family=Family.DIFFUSION,
        entry="wb_diffusion.task_train_vae:run",
        params=TrainVaeParams,
        description="A diffusers AutoencoderKL (32 px images <-> 4x16x16 latents) trained on shapes scenes with "
                    "pixel MSE and a small KL term, resumable; sets the latent scaling factor and saves a diffusers "
                    "folder (optionally published to the zoo as tiny-shapes-vae).",
        backends=TORCH,
        execution="worker",
        outputs=("curves", "image-pairs", "metrics"),
        requires=("shapes-clip",),
    ))
    registry.add_task(TaskSpec(
        id="diffusion.train-unet",
        title="Train the tiny text-to-image model's UNet on captioned shapes scenes",
        family=Family.DIFFUSION,
        entry="wb_diffusion.task_train_unet:run",
        params=TrainUnetParams,
        description="A UNet2DConditionModel (epsilon prediction, DDPM noise schedule) on the frozen VAE's latents, "
                    "conditioned on the tiny CLIP's text tower converted to a CLIPTextModel, caption dropout for "
                    "classifier-free guidance, weight average, resumable; saves a standard "
                    "StableDiffusionPipeline folder (optionally published to the zoo as tiny-shapes-sd).",
        backends=TORCH,
        execution="worker",
        outputs=("curves", "image-grid"),
        requires=("shapes-clip",),
    ))
