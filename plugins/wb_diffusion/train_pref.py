"""The preference-tuning loop MaPO and Diffusion-DPO share; only the loss (and DPO's reference pass) differ.

Each micro-batch concatenates the chosen and rejected images of its pairs (one flip for both), encodes them with the
frozen VAE and noises both halves with the same noise and timestep. Everything random in a step (data order, flips,
VAE sampling, noise, timesteps) comes from generators seeded by ``(seed, step)``, so a resumed run repeats an
uninterrupted one exactly. Checkpoints hold only the trainable tensors (the LoRA, or the whole UNet) with the
optimizer state, through the run context. Under ``torchrun`` or ``accelerate launch`` each process takes its share
of every batch and DDP averages the gradients (``ctx.distributed()``); rank 0 checkpoints, samples and exports.
"""

from __future__ import annotations

import contextlib
import copy
import math
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from wb_diffusion.conditioning import encode_captions
from wb_diffusion.lora import add_lora, continue_lora, export_merged_unet, save_lora
from wb_diffusion.losses import PreferenceLoss, diffusion_target, dpo_loss, mapo_loss, per_sample_error
from wb_diffusion.params_pref import DpoParams, MapoParams, PreferenceTuneParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.preference import PreferencePair, read_pairs, shape_foil_pairs, shape_swap_pairs
from wb_diffusion.sampling import Sample, generate
from workbench.api import Curves, ImageGrid, MetricsTable, Progress, RunContext, UserError

LOSS_CURVES = {"mapo": ("loss", "sft", "margin"), "dpo": ("loss",)}
SCORE_CURVES = {"mapo": ("win_score", "lose_score"), "dpo": ("err_w", "err_l", "ref_err_w", "ref_err_l")}


class TrainableState:
    """The trainable tensors of a module only, as a checkpointable 'model' (a LoRA is MBs, the frozen base GBs)."""

    def __init__(self, module: torch.nn.Module):
        self.params = {n: p for n, p in module.named_parameters() if p.requires_grad}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.params.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state.keys() != self.params.keys():
            raise KeyError(f"the checkpoint holds {len(state)} trainable tensors, this model {len(self.params)}")
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(state[name])

    def finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.params.values())


def load_pairs(params: PreferenceTuneParams) -> list[PreferencePair]:
    if params.pairs == "shapes":
        return shape_foil_pairs(params.n_pairs, seed=params.data_seed)
    if params.pairs == "shapes-swap":
        return shape_swap_pairs(params.n_pairs, seed=params.data_seed)
    return read_pairs(params.pairs, keep_ties=params.keep_ties, sizes=params.sizes)


def to_pixels(image: np.ndarray, size: int) -> torch.Tensor:
    """uint8 ``HxWx3`` to a ``3 x size x size`` tensor in [-1, 1]: centre square crop, bicubic resize."""
    from PIL import Image

    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    pic = Image.fromarray(image[top:top + side, left:left + side])
    if side != size:
        pic = pic.resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(pic, np.float32) / 127.5 - 1).permute(2, 0, 1)


def batch_indices(n: int, batch: int, step: int, micro: int, accum: int, seed: int) -> list[int]:
    """Pairs of micro-batch ``micro`` of step ``step``: consecutive slices of per-epoch permutations."""
    start = (step * accum + micro) * batch
    out = []
    for k in range(start, start + batch):
        epoch, pos = divmod(k, n)
        out.append(int(np.random.default_rng([seed, epoch]).permutation(n)[pos]))
    return out


def autocast_dtype(mixed_precision: str, device: str) -> torch.dtype | None:
    """The autocast dtype for this device (None: fp32). CPU always trains in fp32."""
    if not device.startswith("cuda"):
        if mixed_precision in ("fp16", "bf16"):
            raise UserError(f"mixed_precision={mixed_precision}: only on CUDA; this run is on {device}")
        return None
    if mixed_precision == "no":
        return None
    if mixed_precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp16": torch.float16, "bf16": torch.bfloat16}[mixed_precision]


def peak_memory_mb(device: str) -> float:
    """CUDA: the largest allocation since the last reset; CPU: the process's peak resident set so far."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_mb() -> float:
    """The process's resident set now (Linux ``/proc``; elsewhere its peak so far)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PreferenceStep:
    """One micro-batch's loss for a method: builds the shared-noise batch and calls the loss. ``trained`` is the UNet
    the gradient flows through (``pipe.unet`` or its DistributedDataParallel wrapper)."""

    def __init__(self, pipe, method: str, params: PreferenceTuneParams, resolution: int, reference=None,
                 trained=None):
        from diffusers import DDPMScheduler

        self.pipe, self.method, self.params, self.resolution = pipe, method, params, resolution
        self.trained = trained or pipe.unet
        self.scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.reference = reference
        self.multiplier = getattr(params, "multiplier", 0.0) or self.scheduler.config.num_train_timesteps

    def __call__(self, batch: list[PreferencePair], generator: torch.Generator,
                 share: Callable[[list[int]], list[int]] = lambda items: items) -> PreferenceLoss:
        """The loss on this process's ``share`` of ``batch``; the randomness is drawn for the whole batch, so the
        pairs see the same flips, VAE samples, noise and timesteps whatever the number of processes."""
        pipe, device = self.pipe, self.pipe.unet.device
        size, channels = self.resolution // pipe.vae_scale_factor, pipe.vae.config.latent_channels
        n = len(batch)
        flips = torch.rand(n, generator=generator) < 0.5
        vae_eps = torch.randn((2, n, channels, size, size), generator=generator)
        all_noise = torch.randn((n, channels, size, size), generator=generator)
        all_t = torch.randint(0, self.scheduler.config.num_train_timesteps, (n,), generator=generator)
        mine = share(list(range(n)))
        pairs = [batch[i] for i in mine]
        chosen, rejected = [], []
        for i, pair in zip(mine, pairs):
            both = torch.cat([to_pixels(pair.chosen, self.resolution), to_pixels(pair.rejected, self.resolution)])
            if self.params.hflip and flips[i]:
                both = both.flip(-1)
            chosen.append(both[:3])
            rejected.append(both[3:])
        pixels = torch.stack(chosen + rejected).to(device, pipe.vae.dtype)
        with torch.no_grad():
            posterior = pipe.vae.encode(pixels).latent_dist
            eps = vae_eps[:, mine].flatten(0, 1).to(device, posterior.mean.dtype)
            latents = (posterior.mean + posterior.std * eps) * pipe.vae.config.scaling_factor
        noise = all_noise[mine].to(device, latents.dtype).repeat(2, 1, 1, 1)
        timesteps = all_t[mine].to(device).repeat(2)
        noisy = self.scheduler.add_noise(latents, noise, timesteps)
        target = diffusion_target(self.scheduler, latents, noise, timesteps)
        cond = encode_captions(pipe, [p.caption for p in pairs], (self.resolution, self.resolution),
                               [p.chosen.shape[:2] for p in pairs]).repeat(2)
        pred = self.trained(noisy, timesteps, **cond.unet_kwargs()).sample
        err_w, err_l = per_sample_error(pred, target).chunk(2)
        if self.method == "mapo":
            return mapo_loss(err_w, err_l, self.params.beta, self.params.lam, self.multiplier)
        with torch.no_grad():
            ref_pred = self._reference(noisy, timesteps, cond)
        ref_w, ref_l = per_sample_error(ref_pred, target).chunk(2)
        return dpo_loss(err_w, err_l, ref_w, ref_l, self.params.beta_dpo)

    def _reference(self, noisy, timesteps, cond):
        if self.reference is not None:
            return self.reference(noisy, timesteps, **cond.unet_kwargs()).sample
        self.pipe.unet.disable_adapters()
        try:
            return self.pipe.unet(noisy, timesteps, **cond.unet_kwargs()).sample
        finally:
            self.pipe.unet.enable_adapters()


def sample_images(pipe, prompts: list[str], params: PreferenceTuneParams, size: int,
                  autocast: Callable[[], contextlib.AbstractContextManager]) -> list[np.ndarray]:
    """The grids' images: one per prompt under fixed seeds (``sample_seed + i``)."""
    with autocast():
        return generate(pipe, [Sample(p, params.sample_seed + i, params.sample_steps, params.guidance, "ddim")
                               for i, p in enumerate(prompts)], size, size)


def grid(prompts: list[str], base: list[np.ndarray], tuned: list[np.ndarray], step: int, params) -> ImageGrid:
    images, captions = [], []
    for i, prompt in enumerate(prompts):
        images += [base[i], tuned[i]]
        captions += [f"base: {prompt} (seed {params.sample_seed + i})", f"step {step}: {prompt}"]
    return ImageGrid(name="samples", title=f"Base | tuned on fixed seeds, step {step}", images=images,
                     captions=captions, ncols=2)


def curves(method: str, history: list[dict[str, float]]) -> list[Curves]:
    steps = np.arange(1, len(history) + 1, dtype=np.float64)

    def series(names):
        return {n: np.stack([steps, [h[n] for h in history]]) for n in names}

    return [Curves(name="loss", title=f"{method.upper()} loss terms", y_label="loss",
                   series=series(LOSS_CURVES[method])),
            Curves(name="scores", title="Win/lose scores" if method == "mapo" else "Model and reference errors",
                   y_label="score" if method == "mapo" else "per-sample MSE", series=series(SCORE_CURVES[method])),
            Curves(name="implicit-accuracy", title="Implicit accuracy", y_label="share of pairs",
                   series=series(("implicit_acc",)))]


def _history_tensor(history: list[dict[str, float]], names: list[str]) -> torch.Tensor:
    return torch.tensor([[h[n] for n in names] for h in history], dtype=torch.float64).reshape(-1, len(names))


def make_trainable(pipe, method: str, params: PreferenceTuneParams) -> tuple[list, torch.nn.Module | None]:
    """The parameters to train (a new LoRA, the saved ``init_lora``, or the whole UNet) and DPO's separate reference
    (a frozen copy of the full UNet; None when the LoRA is switched off instead, or for MaPO)."""
    unet = pipe.unet
    if params.init_lora:
        return continue_lora(pipe, params.init_lora), None
    if params.lora:
        return add_lora(unet, params.lora_rank, params.lora_alpha or None, params.lora_targets), None
    reference = copy.deepcopy(unet).requires_grad_(False).eval() if method == "dpo" else None
    unet.requires_grad_(True)
    return list(unet.parameters()), reference


def train_preference(method: str, params: MapoParams | DpoParams, ctx: RunContext) -> Iterator:
    """The task body of ``diffusion.mapo`` / ``diffusion.dpo``."""
    pairs = load_pairs(params)
    amp = autocast_dtype(params.mixed_precision, ctx.device)
    pipe = load_pipeline(params.model, device=ctx.device)
    resolution = params.resolution or pipe.unet.config.sample_size * pipe.vae_scale_factor
    multiple = max(8, pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1))
    if resolution % multiple:
        raise UserError(f"resolution={resolution}: must be a multiple of {multiple} for this VAE and UNet")
    prompts = params.sample_prompts or list(dict.fromkeys(p.caption for p in pairs))[:4]
    if not prompts or any(not p.strip() for p in prompts):
        raise UserError("sample_prompts: give non-empty prompts")
    pipe.vae.requires_grad_(False)
    for encoder in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)):
        if encoder is not None:
            encoder.requires_grad_(False)

    def autocast():
        return torch.autocast("cuda", dtype=amp) if amp is not None else contextlib.nullcontext()

    dist = ctx.distributed()
    if params.batch_size < dist.world:
        raise UserError(f"batch_size={params.batch_size}: fewer pairs than the {dist.world} processes")
    base_images = sample_images(pipe, prompts, params, resolution, autocast) if dist.main else []
    trainable, reference = make_trainable(pipe, method, params)
    state = TrainableState(pipe.unet)
    opt = torch.optim.AdamW(trainable, lr=params.lr, weight_decay=params.weight_decay)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    step_loss = PreferenceStep(pipe, method, params, resolution, reference, dist.wrap(pipe.unet, ctx.device))
    signature = {"method": method, "model": params.model, "pairs": params.pairs, "n_pairs": params.n_pairs,
                 "steps": params.steps, "batch_size": params.batch_size, "grad_accum": params.grad_accum,
                 "lora": params.lora, "lora_rank": params.lora_rank, "data_seed": params.data_seed,
                 **({"init_lora": params.init_lora} if params.init_lora else {})}
    names = ["loss", *sorted(k for k in LOSS_CURVES[method] + SCORE_CURVES[method] if k != "loss"), "implicit_acc"]
    history: list[dict[str, float]] = []
    start = 0
    if params.resume:
        resumed = ctx.resume(params.resume, state, opt, signature=signature)
        start = resumed.step
        rows = resumed.extra.get("history", torch.zeros(0, len(names))).tolist()
        history = [dict(zip(names, row)) for row in rows]
    end = min(params.steps, params.stop_after or params.steps)
    ctx.log(f"{method}: {len(pairs)} pairs, {sum(p.numel() for p in trainable):,} trainable parameters "
            f"({'LoRA' if params.lora else 'full UNet'}), {resolution} px, autocast {amp or 'off'}, {ctx.device}")
    if ctx.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    memory_before = 0.0 if ctx.device.startswith("cuda") else resident_mb()
    last_good = start if params.resume else None
    seconds = 0.0
    for step in range(start, end):
        ctx.check_cancelled()
        began = time.perf_counter()
        terms: dict[str, float] = {}
        pipe.unet.train()
        for micro in range(params.grad_accum):
            generator = torch.Generator().manual_seed(int(np.random.default_rng([ctx.seed, step, micro])
                                                          .integers(2**62)))
            batch = batch_indices(len(pairs), params.batch_size, step, micro, params.grad_accum, params.data_seed)
            local = dist.share(batch)
            with autocast():
                out = step_loss([pairs[i] for i in batch], generator, dist.share)
            if not math.isfinite(out.terms["loss"]):
                where = f"the last good checkpoint (step {last_good}) is {ctx.checkpoint_path}" if last_good \
                    else "no checkpoint was written yet"
                raise UserError(f"{method}: the loss became {out.terms['loss']} at step {step + 1}; stopped, {where}."
                                " Lower lr or use mixed_precision=no")
            loss = out.loss * dist.loss_scale(len(local), len(batch)) / params.grad_accum
            (scaler.scale(loss) if scaler else loss).backward()
            for k, v in out.terms.items():
                terms[k] = terms.get(k, 0.0) + v / params.grad_accum
        if scaler:
            scaler.unscale_(opt)
        if params.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(trainable, params.max_grad_norm)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - began
        history.append({n: terms[n] for n in names})
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            if not state.finite():
                raise UserError(f"{method}: the weights became NaN/inf at step {done}; stopped, "
                                + (f"the last good checkpoint (step {last_good}) is {ctx.checkpoint_path}"
                                   if last_good else "no checkpoint was written yet"))
            ctx.save_checkpoint(done, state, opt, signature=signature,
                                extra={"history": _history_tensor(history, names)})
            last_good = done
        if done % max(1, params.steps // 100) == 0 or done == end:  # live, about a hundred redraws per run
            yield from curves(method, history)
        if params.sample_every and done % params.sample_every == 0 and done != params.steps and dist.main:
            pipe.unet.eval()
            yield grid(prompts, base_images, sample_images(pipe, prompts, params, resolution, autocast), done, params)
        yield Progress(done / params.steps, f"step {done}/{params.steps}: loss {terms['loss']:.4f}, implicit "
                                            f"accuracy {terms['implicit_acc']:.2f}", metrics=dict(terms))
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    if not dist.main:
        return
    pipe.unet.eval()
    yield grid(prompts, base_images, sample_images(pipe, prompts, params, resolution, autocast), params.steps, params)
    export(pipe, params, ctx)
    ran = end - start
    last = history[-min(10, len(history)):]
    rows = [[f"{n} (mean of last {len(last)} steps)", round(float(np.mean([h[n] for h in last])), 6)] for n in names]
    rows += [["seconds per step", round(seconds / max(1, ran), 4)],
             ["peak memory (MB)", round(peak_memory_mb(ctx.device) - memory_before, 1)]]
    yield MetricsTable(name="summary", title=f"{method.upper()} tuning of {params.model}", columns=["metric", "value"],
                       rows=rows, notes=f"{ran} steps this session on {ctx.device}; peak memory: "
                                        + ("torch.cuda.max_memory_allocated" if ctx.device.startswith("cuda")
                                           else "the process's peak RSS above its RSS when training began"))


def export(pipe, params: PreferenceTuneParams, ctx: RunContext) -> None:
    """The tuned weights into the run's artifacts: the LoRA in diffusers format (optionally merged), or the UNet."""
    if params.lora:
        path = save_lora(pipe, ctx.artifacts / "lora")
        ctx.log(f"LoRA (diffusers format, pipe.load_lora_weights) in {path}")
        if params.export_merged:
            ctx.log(f"merged UNet in {export_merged_unet(pipe.unet, ctx.artifacts / 'unet-merged')}")
    else:
        pipe.unet.save_pretrained(ctx.artifacts / "unet")
        ctx.log(f"tuned UNet in {ctx.artifacts / 'unet'}")

