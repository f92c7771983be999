"""Tasks ``diffusion.textual-inversion`` and ``diffusion.dreambooth-lora``: a concept learnt from a few images.

Both minimise the plain diffusion loss (epsilon or v target) on the concept's images captioned with templates that
name it, in one loop (under torchrun each rank takes its share of the batch and the gradients are averaged).
Textual inversion learns only the new token's row of the text encoder's input embedding (the other rows are put
back after every step, so neither the gradient nor the optimizer's update reaches them) and writes a ``{token:
vector}`` file that ``pipe.load_textual_inversion`` reads. DreamBooth-LoRA learns a LoRA on the UNet for a rare
word plus a class word (no prior preservation) and writes it in diffusers format. ``diffusion.alignit`` takes
either as its customisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from wb_diffusion.lora import add_lora, save_lora
from wb_diffusion.losses import diffusion_target, per_sample_error
from wb_diffusion.params_align import ConceptFields, DreamBoothLoraParams, TextualInversionParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.sampling import sample_seeds
from wb_diffusion.train_pref import to_pixels
from workbench.api import Curves, ImageGrid, Progress, RunContext, UserError, load_sample, read_image_tree


def concept_images(params: ConceptFields, size: int) -> list[np.ndarray]:
    """The training images: one-object shapes scenes of the named object (from the train split, or from the novel
    split for the colour-shape pairs the world holds out, e.g. ``red star``: a concept the zoo model never saw), or
    a folder's images."""
    if params.images.startswith("shapes:"):
        wanted = params.images.removeprefix("shapes:").strip()
        found: list[np.ndarray] = []
        for split in ("train", "novel"):
            start = 0
            while len(found) < params.n_images and start < 100 * params.n_images:
                world = load_sample("shapes", split=split, n=256, seed=0, image_size=size, min_objects=1,
                                    max_objects=1, start=start)
                found += [s.image for s in world if s.objects[0].label.endswith(wanted)]
                start += 256
        if not found:
            raise UserError(f"images={params.images}: no one-object shapes scene shows a {wanted!r} (write "
                            "'shapes:<colour> <shape>', e.g. 'shapes:red star')")
        return found[: params.n_images]
    images = read_image_tree(params.images, what="images").images
    if not images:
        raise UserError(f"images={params.images}: no images in that folder")
    return images


def add_token(pipe, token: str, init_word: str) -> int:
    """Add ``token`` to the tokenizer and give it the mean embedding of ``init_word``'s tokens; its id."""
    if token in pipe.tokenizer.get_vocab():
        raise UserError(f"token={token!r} is already in the tokenizer: choose a new one, e.g. '<my-concept>'")
    init = pipe.tokenizer(init_word, add_special_tokens=False).input_ids
    if not init:
        raise UserError(f"init_word={init_word!r} has no tokens")
    pipe.tokenizer.add_tokens([token])
    pipe.text_encoder.resize_token_embeddings(len(pipe.tokenizer))
    new_id = pipe.tokenizer.convert_tokens_to_ids(token)
    with torch.no_grad():
        table = pipe.text_encoder.get_input_embeddings().weight
        table[new_id] = table[init].mean(dim=0)
    return new_id


@dataclass
class Learner:
    """What a concept method trains: ``module`` (checkpointed, gradients averaged over ranks), the optimizer's
    ``parameters``, the concept as the captions name it, what to do after each step, and how to save the result."""

    module: torch.nn.Module
    parameters: list
    concept: str
    after_step: Callable[[], None]
    save: Callable[[Path], Path]
    what: str


def textual_inversion(pipe, params: TextualInversionParams) -> Learner:
    new_id = add_token(pipe, params.token, params.init_word)
    embedding = pipe.text_encoder.get_input_embeddings()
    table = embedding.weight
    table.requires_grad_(True)
    frozen = table.detach().clone()
    keep = torch.ones(len(table), dtype=torch.bool, device=table.device)
    keep[new_id] = False

    def put_back() -> None:
        with torch.no_grad():
            table[keep] = frozen[keep]

    def save(folder: Path) -> Path:
        out = folder / "learned_embeds.safetensors"
        save_file({params.token: table[new_id].detach().cpu().clone().contiguous()}, str(out))
        return out

    return Learner(embedding, [table], params.token, put_back, save,
                   f"token {params.token!r} (id {new_id}) from {params.init_word!r}")


def dreambooth_lora(pipe, params: DreamBoothLoraParams) -> Learner:
    if len(pipe.tokenizer(params.token, add_special_tokens=False).input_ids) != 1:
        raise UserError(f"token={params.token!r} is not one token of this tokenizer: pick a rare word that is "
                        "(e.g. 'sks')")
    trainable = add_lora(pipe.unet, params.lora_rank)
    return Learner(pipe.unet, trainable, f"{params.token} {params.class_word}", lambda: None,
                   lambda folder: save_lora(pipe, folder / "lora"), f"LoRA rank {params.lora_rank} on the UNet")


def train_concept(params: TextualInversionParams | DreamBoothLoraParams, ctx: RunContext,
                  setup: Callable[..., Learner], title: str):
    from diffusers import DDPMScheduler

    pipe = load_pipeline(params.model, device=ctx.device)
    if getattr(pipe, "text_encoder_2", None) is not None:
        raise UserError(f"model={params.model}: concepts are trained here on single-text-encoder pipelines")
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    images = concept_images(params, size)
    for module in (pipe.unet, pipe.vae, pipe.text_encoder):
        module.requires_grad_(False)
    learner = setup(pipe, params)
    prompt = params.templates[0].format(learner.concept)
    # A new token starts as its init word, a LoRA as zero: "before" is the model as it was.
    before = sample_seeds(pipe, params.sample_seeds, params.sample_steps, 5.0, prompt=prompt) \
        if params.sample_seeds else []
    opt = torch.optim.AdamW(learner.parameters, lr=params.lr, weight_decay=0.0)
    dist = ctx.distributed()
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    with torch.no_grad():
        pixels = torch.stack([to_pixels(img, size) for img in images]).to(ctx.device)
        latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
    signature = {"model": params.model, "token": params.token, "images": params.images, "steps": params.steps}
    state = ctx.start_or_resume(params.resume, learner.module, opt, signature=signature)
    start, losses = state.step, state.history("losses")
    end = min(params.steps, params.stop_after or params.steps)
    ctx.log(f"{len(images)} images of {params.images!r}; {learner.what}")
    for step in range(start, end):
        ctx.check_cancelled()
        gen = torch.Generator().manual_seed(ctx.seed * 1_000_003 + step)
        pick = torch.randint(0, len(latents), (params.batch_size,), generator=gen)
        which = torch.randint(0, len(params.templates), (params.batch_size,), generator=gen)
        noise = torch.randn((params.batch_size, *latents.shape[1:]), generator=gen).to(latents)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (params.batch_size,), generator=gen).to(ctx.device)
        pick, which, noise, t = (dist.share(x) for x in (pick, which, noise, t))
        batch = latents[pick.to(ctx.device)]
        captions = [params.templates[int(i)].format(learner.concept) for i in which]
        states, _ = pipe.encode_prompt(captions, ctx.device, 1, do_classifier_free_guidance=False)
        pred = pipe.unet(scheduler.add_noise(batch, noise, t), t, encoder_hidden_states=states).sample
        loss = per_sample_error(pred, diffusion_target(scheduler, batch, noise, t)).mean() \
            * dist.loss_scale(len(pick), params.batch_size)
        value = loss.item()
        if not np.isfinite(value):
            raise UserError(f"the loss became {value} at step {step + 1}; lower lr (now {params.lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(learner.module)
        opt.step()
        learner.after_step()
        losses.append([step + 1, value])
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, learner.module, opt, signature=signature,
                                extra={"losses": torch.tensor(losses, dtype=torch.float64)})
            yield Curves(name="loss", title=f"{title} loss", x_label="step", y_label="diffusion MSE",
                         series={"loss": np.array(losses).T})
        yield Progress(done / params.steps, f"step {done}/{params.steps}: loss {value:.4f}",
                       metrics={"loss": value})
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    out = learner.save(Path(ctx.artifacts))
    ctx.log(f"{title} written to {out}; use it with diffusion.alignit custom={out}")
    if params.sample_seeds:
        after = sample_seeds(pipe, params.sample_seeds, params.sample_steps, 5.0, prompt=prompt)
        yield ImageGrid(name="before-after", title=f"{prompt!r}: before and after {title}",
                        images=before + after, ncols=len(before),
                        captions=[f"before, seed {s}" for s in params.sample_seeds]
                        + [f"after, seed {s}" for s in params.sample_seeds])


def run(params: TextualInversionParams, ctx: RunContext):
    yield from train_concept(params, ctx, textual_inversion, "textual inversion")


def run_dreambooth(params: DreamBoothLoraParams, ctx: RunContext):
    yield from train_concept(params, ctx, dreambooth_lora, "DreamBooth-LoRA")
