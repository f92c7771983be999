"""Task ``diffusion.train-unet``: the text-conditioned UNet of the zoo's tiny text-to-image model.

Standard latent diffusion training: frozen VAE latents (times the VAE's scaling factor), DDPM noise schedule of
Stable Diffusion (scaled linear, 1000 steps), epsilon prediction, conditioning on the last hidden states of the
tiny CLIP's text tower (converted to a ``CLIPTextModel``, frozen), captions dropped to "" for classifier-free
guidance. An exponential weight average of the UNet is what gets saved: a standard ``StableDiffusionPipeline``
folder (``artifacts/pipeline``) with the DDIM sampler, published as ``tiny-shapes-sd`` when asked. Under torchrun
the UNet is DistributedDataParallel and each rank takes its share of every batch.
"""

from __future__ import annotations

import copy
import math
import shutil
from pathlib import Path

import torch

from wb_diffusion.params_base import TrainUnetParams
from wb_diffusion.pipelines import load_vae
from wb_diffusion.sampling import Sample, generate
from wb_diffusion.shapes_batches import scene_batch
from wb_diffusion.text_tower import clip_tokenizer, convert_text_tower
from wb_diffusion.tiny import tiny_scheduler, tiny_unet
from wb_diffusion.training_loop import loss_curves, set_threads, warmup_lr
from wb_diffusion.zoo_files import publish_folder
from workbench.api import Distributed, ImageGrid, Progress, RunContext, load_clip

PREVIEW_SEEDS = 8
BPE_FILES = ("vocab.json", "merges.txt")


def ddpm_noise_schedule():
    """Stable Diffusion's training noise schedule."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                         beta_schedule="scaled_linear", clip_sample=False, prediction_type="epsilon")


def encode_text(tokenizer, text_encoder, captions: list[str]) -> torch.Tensor:
    """(B, 77, width) last hidden states, padded to the tokenizer's full length as SD does."""
    ids = tokenizer(captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    return text_encoder(ids.to(text_encoder.device)).last_hidden_state


def denoising_loss(unet, vae, noise_schedule, images: torch.Tensor, states: torch.Tensor,
                   dist: Distributed | None = None) -> torch.Tensor:
    """Epsilon-prediction MSE at uniformly drawn timesteps. Under data parallelism this rank's share of the batch
    (``unet`` is then the DDP module), every random draw made for the whole batch, the loss scaled for DDP's mean."""
    dist = dist or Distributed()
    n, mine = len(images), dist.share(torch.arange(len(images)))
    with torch.no_grad():
        posterior = vae.encode(images[mine]).latent_dist
        shape = (n, *posterior.mean.shape[1:])
        eps = dist.share(torch.randn(shape, dtype=posterior.mean.dtype)).to(posterior.mean.device)
        latents = (posterior.mean + posterior.std * eps) * vae.config.scaling_factor
    noise = dist.share(torch.randn(shape, dtype=latents.dtype)).to(latents.device)
    t = dist.share(torch.randint(0, noise_schedule.config.num_train_timesteps, (n,))).to(latents.device)
    pred = unet(noise_schedule.add_noise(latents, noise, t), t, states[mine]).sample
    return torch.nn.functional.mse_loss(pred.float(), noise.float()) * dist.loss_scale(len(mine), n)


def update_average(average, model, decay: float) -> None:
    with torch.no_grad():
        torch._foreach_lerp_(list(average.parameters()), list(model.parameters()), 1.0 - decay)


def assemble(unet, vae, text_encoder, tokenizer, bpe_folder: Path, folder: Path):
    """A ``StableDiffusionPipeline`` of the parts (DDIM sampler), saved to ``folder``; the tokenizer folder also
    gets the BPE files (``vocab.json``, ``merges.txt``) that older transformers read."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=tiny_scheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe.save_pretrained(folder)
    for name in BPE_FILES:
        shutil.copyfile(bpe_folder / name, folder / "tokenizer" / name)
    return pipe


def preview(pipe, params: TrainUnetParams) -> ImageGrid:
    """Held-out test captions, one seed each, DDIM at guidance 5."""
    _, captions = scene_batch(0, PREVIEW_SEEDS, params.data_seed, params.image_size, params.max_objects, "test")
    images = generate(pipe, [Sample(c, seed, params.preview_steps, 5.0, "ddim") for seed, c in enumerate(captions)])
    return ImageGrid(name="samples", title="Samples for held-out shapes captions (seed = position)",
                     images=images, captions=captions, ncols=4)


def run(params: TrainUnetParams, ctx: RunContext):
    set_threads(params.threads)
    torch.manual_seed(ctx.seed)
    vae = load_vae(params.vae).eval().requires_grad_(False)
    clip = load_clip(params.clip)
    text_encoder = convert_text_tower(clip).requires_grad_(False)
    bpe_folder = ctx.artifacts / "tokenizer-files"
    tokenizer = clip_tokenizer(clip, bpe_folder)
    unet = tiny_unet(cross_attention_dim=text_encoder.config.hidden_size, sample_size=params.image_size // 2,
                     channels=tuple(params.channels), norm_num_groups=math.gcd(32, *params.channels))
    average = copy.deepcopy(unet).requires_grad_(False)
    both = torch.nn.ModuleDict({"unet": unet, "average": average})
    noise_schedule = ddpm_noise_schedule()
    opt = torch.optim.AdamW(unet.parameters(), lr=params.lr, weight_decay=1e-2)
    dist = ctx.distributed()
    trained = dist.wrap(unet, ctx.device)
    # The learning rate does not depend on ``steps``, so a finished run can be continued with more steps.
    signature = {"task": "diffusion.train-unet", "batch_size": params.batch_size,
                 "data_seed": params.data_seed, "channels": list(params.channels), "vae": params.vae}
    state = ctx.start_or_resume(params.resume, both, opt, signature=signature)
    start, losses = state.step, state.history("losses")
    end = min(params.steps, params.stop_after or params.steps)
    dropped = torch.Generator().manual_seed(params.data_seed)
    for step in range(start, end):
        ctx.check_cancelled()
        images, captions = scene_batch(step, params.batch_size, params.data_seed, params.image_size,
                                       params.max_objects)
        drop = torch.rand(len(captions), generator=dropped.manual_seed(params.data_seed * 1_000_003 + step))
        captions = ["" if d < params.caption_dropout else c for c, d in zip(captions, drop.tolist(), strict=True)]
        with torch.no_grad():
            states = encode_text(tokenizer, text_encoder, captions)
        for group in opt.param_groups:
            group["lr"] = warmup_lr(step, params.lr, params.warmup_steps)
        unet.train()
        loss = denoising_loss(trained, vae, noise_schedule, images, states, dist)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        update_average(average, unet, min(params.ema_decay, (1 + step) / (10 + step)))
        value = float(loss.detach()) / dist.loss_scale(len(dist.share(captions)), len(captions))
        losses.append([step + 1, value])
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, both, opt, signature=signature,
                                extra={"losses": torch.tensor(losses, dtype=torch.float64)})
            yield loss_curves("loss", "UNet denoising loss", ["epsilon mse"], losses)
        yield Progress(done / params.steps, f"step {done}/{params.steps}: loss {value:.4f}", metrics={"loss": value})
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    folder = ctx.artifacts / "pipeline"
    pipe = assemble(average.eval(), vae, text_encoder, tokenizer, bpe_folder, folder)
    ctx.log(f"pipeline saved to {folder}")
    yield preview(pipe, params)
    if params.publish:
        publish_folder(
            ctx, params.model_id, folder, weights="unet/diffusion_pytorch_model.safetensors",
            title="Tiny text-to-image model of the shapes world (Stable Diffusion pipeline, 32 px)",
            architecture=f"diffusers StableDiffusionPipeline folder: UNet2DConditionModel blocks "
                         f"{list(params.channels)} (cross-attention width {text_encoder.config.hidden_size}, epsilon "
                         f"prediction), AutoencoderKL {params.vae} (4x16x16 latents), text encoder = the "
                         f"{params.clip} text tower as a CLIPTextModel with the CLIP BPE tokenizer; DDIM sampler "
                         "(float16 storage, loads as float32)",
            recipe="zoo-tiny-shapes-sd", loader="wb_diffusion.pipelines:load_card",
            data=f"shapes world seed {params.data_seed}: train scenes 0..{params.steps * params.batch_size - 1} at "
                 f"{params.image_size} px, 1-{params.max_objects} objects, short captions, {params.caption_dropout} "
                 "of them dropped", metrics={})
