"""Task ``diffusion.longalign-reward``: LongAlign's reward fine-tuning with the omega-reweighted CLIP score.

Each step samples the batch's prompts with DDIM and classifier-free guidance; ``grad_steps`` of the denoising steps
(evenly spaced, random offset) run the UNet with gradient under checkpointing, the others without; the UNet's
input is always detached while the DDIM update chain keeps its gradient (as the reference's ``unet_reward.py``).
The final latents are decoded, clamped to [0, 1] and scored by a CLIP: ``S_omega`` (:mod:`wb_diffusion.
reward_split`); the loss is ``0.5 (1 - mean S_omega)``. A LoRA on the UNet learns; the reward's raw and
reweighted values and both parts are logged, and the base | tuned grid uses the same seeds. Under torchrun each
rank samples its share of the prompts (the shared text direction ``V`` is the whole batch's, as the reference
gathers it) and the LoRA's gradients are averaged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from wb_diffusion.longalign import segment_prompt_embeds, split_segments
from wb_diffusion.lora import add_lora, save_lora
from wb_diffusion.params_align import RewardTuneParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.reward_split import shared_direction, split_score
from wb_diffusion.sampling import sample_seeds
from workbench.api import Curves, Distributed, ImageGrid, Progress, RunContext, UserError, load_clip, load_sample


class ClipReward:
    """A frozen CLIP as a differentiable judge of images in [0, 1] against prompts."""

    def __init__(self, name: str, device: str) -> None:
        self.clip = load_clip(name, device=device)
        self.clip.model.requires_grad_(False).eval()
        self.mean = torch.tensor(self.clip.mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(self.clip.std, device=device).view(1, 3, 1, 1)

    def images(self, pixels: torch.Tensor) -> torch.Tensor:
        size = self.clip.image_size
        x = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return self.clip.model.encode_image((x - self.mean) / self.std, normalize=True)

    @torch.no_grad()
    def texts(self, prompts: list[str], segments: bool) -> torch.Tensor:
        """Unit embeddings of the prompts, or (Denscore) the mean of each prompt's unit segment embeddings."""
        if not segments:
            return self.clip.encode_text(prompts)
        return torch.stack([self.clip.encode_text(split_segments(p)).mean(dim=0) for p in prompts])


def prompt_batch(params: RewardTuneParams, step: int) -> list[str]:
    if params.prompts == "shapes-long":
        world = load_sample("shapes", split="train", n=params.batch_size, seed=0, start=step * params.batch_size)
        return [s.long_caption for s in world]
    path = Path(params.prompts).expanduser()
    if not path.is_file():
        raise UserError(f"prompts={params.prompts}: no such file (or use 'shapes-long')")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise UserError(f"prompts={params.prompts}: the file has no prompts")
    return [lines[(step * params.batch_size + i) % len(lines)] for i in range(params.batch_size)]


def conditioning(pipe, prompts: list[str], params: RewardTuneParams) -> tuple[torch.Tensor, torch.Tensor]:
    if params.segment_encoding:
        return segment_prompt_embeds(pipe, prompts, token_length=params.token_length)
    with torch.no_grad():
        cond, uncond = pipe.encode_prompt(prompts, pipe.unet.device, 1, True)
    return cond, uncond


def sample_with_grad(pipe, cond: torch.Tensor, uncond: torch.Tensor, params: RewardTuneParams,
                     gen: torch.Generator, dist: Distributed | None = None) -> torch.Tensor:
    """Images in [0, 1] (B, 3, H, W) whose graph reaches the UNet through ``grad_steps`` denoising steps. Under
    data parallelism ``cond``/``uncond`` are this rank's share of ``params.batch_size`` prompts, and the initial
    noise is drawn for the whole batch and shared out the same way."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    scheduler.set_timesteps(params.sample_steps, device=pipe.unet.device)
    dist = dist or Distributed()
    n, side = len(cond) if not dist.active else params.batch_size, pipe.unet.config.sample_size
    latents = dist.share(torch.randn((n, pipe.unet.config.in_channels, side, side), generator=gen)).to(cond) \
        * scheduler.init_noise_sigma
    every = max(1, params.sample_steps // params.grad_steps)
    offset = int(torch.randint(0, every, (1,), generator=gen))
    with_grad = {i for i in range(offset, params.sample_steps, every)}
    states = torch.cat([uncond, cond])

    def unet(x, t):
        return pipe.unet(x, t, encoder_hidden_states=states).sample

    for i, t in enumerate(scheduler.timesteps):
        x = scheduler.scale_model_input(torch.cat([latents.detach()] * 2), t)
        if i in with_grad:
            eps = checkpoint(unet, x, t, use_reentrant=False)
        else:
            with torch.no_grad():
                eps = unet(x, t)
        eps_uncond, eps_cond = eps.chunk(2)
        eps = eps_uncond + params.guidance * (eps_cond - eps_uncond)
        latents = scheduler.step(eps, t, latents).prev_sample
    decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return (decoded / 2 + 0.5).clamp(0, 1)


def run(params: RewardTuneParams, ctx: RunContext):
    pipe = load_pipeline(params.model, device=ctx.device)
    if getattr(pipe, "text_encoder_2", None) is not None:
        raise UserError(f"model={params.model}: LongAlign reward tuning here trains single-text-encoder pipelines")
    pipe.vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    trainable = add_lora(pipe.unet, params.lora_rank)
    reward = ClipReward(params.reward_model, ctx.device)
    opt = torch.optim.AdamW(trainable, lr=params.lr, weight_decay=0.0)
    dist = ctx.distributed()
    signature = {"model": params.model, "omega": params.omega, "lora_rank": params.lora_rank,
                 "prompts": params.prompts}
    names = ["loss", "reward", "raw", "relevant", "irrelevant"]
    history: list[list[float]] = []
    start = 0
    if params.resume:
        state = ctx.resume(params.resume, pipe.unet, opt, signature=signature)
        start, history = state.step, state.extra["history"].tolist()
    end = min(params.steps, params.stop_after or params.steps)
    for step in range(start, end):
        ctx.check_cancelled()
        gen = torch.Generator().manual_seed(ctx.seed * 1_000_003 + step)
        prompts = prompt_batch(params, step)
        texts = reward.texts(prompts, params.segment_reward)
        direction = shared_direction(texts)
        mine = dist.share(list(range(len(prompts))))
        cond, uncond = conditioning(pipe, [prompts[i] for i in mine], params)
        images = sample_with_grad(pipe, cond, uncond, params, gen, dist)
        split = split_score(reward.images(images), texts[mine], params.omega, direction)
        loss = 0.5 * (1 - split.score.mean()) * dist.loss_scale(len(mine), len(prompts))
        if not torch.isfinite(loss):
            raise UserError(f"the loss became {float(loss.detach())} at step {step + 1}; lower lr (now {params.lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(pipe.unet)
        if params.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(trainable, params.max_grad_norm)
        opt.step()
        row = [float(v.detach().mean()) for v in (loss, split.score, split.raw, split.relevant, split.irrelevant)]
        history.append([step + 1, *row])
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, pipe.unet, opt, signature=signature,
                                extra={"history": torch.tensor(history, dtype=torch.float64)})
            table = np.array(history).T
            yield Curves(name="reward", title=f"LongAlign reward tuning (omega {params.omega})", x_label="step",
                         series={name: table[[0, k + 1]] for k, name in enumerate(names)})
        yield Progress(done / params.steps, f"step {done}/{params.steps}: reward {row[1]:.4f} (raw {row[2]:.4f})",
                       metrics=dict(zip(names, row)))
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    folder = save_lora(pipe, ctx.artifacts / "lora").parent
    ctx.log(f"LoRA written to {folder}")
    if params.eval_seeds:
        prompt = prompt_batch(params, 10_000_000)[0]
        cond, uncond = conditioning(pipe, [prompt], params)
        inputs = dict(prompt_embeds=cond, negative_prompt_embeds=uncond)
        pipe.unet.disable_adapters()
        base = sample_seeds(pipe, params.eval_seeds, params.sample_steps, params.guidance, **inputs)
        pipe.unet.enable_adapters()
        tuned = sample_seeds(pipe, params.eval_seeds, params.sample_steps, params.guidance, **inputs)
        yield ImageGrid(name="base-vs-tuned", title=f"{prompt[:80]}...: base | tuned (omega {params.omega})",
                        images=base + tuned, ncols=len(base),
                        captions=[f"base, seed {s}" for s in params.eval_seeds]
                        + [f"tuned, seed {s}" for s in params.eval_seeds])
