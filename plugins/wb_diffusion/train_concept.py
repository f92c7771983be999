"""Task ``diffusion.textual-inversion``: a new token's embedding learnt from a few images of a concept.

Only the new row of the text encoder's input embedding learns (the other rows are put back after every step, so
neither the gradient nor the optimizer's update reaches them); the UNet, the VAE and the rest of the text encoder
are frozen. The loss is the plain diffusion loss (epsilon or v target) on the images captioned with templates
holding the token (under torchrun each rank takes its share of the batch and the gradients are averaged). The
result is a ``{token: vector}`` safetensors file that ``pipe.load_textual_inversion`` and
``diffusion.alignit`` read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from wb_diffusion.losses import diffusion_target, per_sample_error
from wb_diffusion.params_align import TextualInversionParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.sampling_util import sample_seeds
from wb_diffusion.train_pref import to_pixels
from workbench.api import Curves, ImageGrid, Progress, RunContext, UserError, load_sample, read_image_tree


def concept_images(params: TextualInversionParams, size: int) -> list[np.ndarray]:
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


def run(params: TextualInversionParams, ctx: RunContext):
    from diffusers import DDPMScheduler

    pipe = load_pipeline(params.model, device=ctx.device)
    if getattr(pipe, "text_encoder_2", None) is not None:
        raise UserError(f"model={params.model}: textual inversion here trains single-text-encoder pipelines")
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    images = concept_images(params, size)
    new_id = add_token(pipe, params.token, params.init_word)
    for module in (pipe.unet, pipe.vae, pipe.text_encoder):
        module.requires_grad_(False)
    table = pipe.text_encoder.get_input_embeddings().weight
    table.requires_grad_(True)
    frozen = table.detach().clone()
    keep = torch.ones(len(table), dtype=torch.bool, device=table.device)
    keep[new_id] = False
    opt = torch.optim.AdamW([table], lr=params.lr, weight_decay=0.0)
    dist = ctx.distributed()
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    with torch.no_grad():
        pixels = torch.stack([to_pixels(img, size) for img in images]).to(ctx.device)
        latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
    prompt = params.templates[0].format(params.token)
    before = sample_seeds(pipe, params.sample_seeds, params.sample_steps, 5.0, prompt=prompt) \
        if params.sample_seeds else []
    signature = {"model": params.model, "token": params.token, "images": params.images, "steps": params.steps}
    losses: list[list[float]] = []
    start = 0
    if params.resume:
        state = ctx.resume(params.resume, pipe.text_encoder.get_input_embeddings(), opt, signature=signature)
        start, losses = state.step, state.extra["losses"].tolist()
    end = min(params.steps, params.stop_after or params.steps)
    ctx.log(f"{len(images)} images of {params.images!r}; token {params.token!r} (id {new_id}) from "
            f"{params.init_word!r}")
    for step in range(start, end):
        ctx.check_cancelled()
        gen = torch.Generator().manual_seed(ctx.seed * 1_000_003 + step)
        pick = torch.randint(0, len(latents), (params.batch_size,), generator=gen)
        which = torch.randint(0, len(params.templates), (params.batch_size,), generator=gen)
        noise = torch.randn((params.batch_size, *latents.shape[1:]), generator=gen).to(latents)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (params.batch_size,), generator=gen).to(ctx.device)
        pick, which, noise, t = (dist.share(x) for x in (pick, which, noise, t))
        batch = latents[pick.to(ctx.device)]
        captions = [params.templates[int(i)].format(params.token) for i in which]
        states, _ = pipe.encode_prompt(captions, ctx.device, 1, do_classifier_free_guidance=False)
        pred = pipe.unet(scheduler.add_noise(batch, noise, t), t, encoder_hidden_states=states).sample
        loss = per_sample_error(pred, diffusion_target(scheduler, batch, noise, t)).mean() \
            * dist.loss_scale(len(pick), params.batch_size)
        value = loss.item()
        if not np.isfinite(value):
            raise UserError(f"the loss became {value} at step {step + 1}; lower lr (now {params.lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(pipe.text_encoder.get_input_embeddings())
        opt.step()
        with torch.no_grad():
            table[keep] = frozen[keep]
        losses.append([step + 1, value])
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, pipe.text_encoder.get_input_embeddings(), opt, signature=signature,
                                extra={"losses": torch.tensor(losses, dtype=torch.float64)})
            yield Curves(name="loss", title="Textual inversion loss", x_label="step", y_label="diffusion MSE",
                         series={"loss": np.array(losses).T})
        yield Progress(done / params.steps, f"step {done}/{params.steps}: loss {value:.4f}",
                       metrics={"loss": value})
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    out = Path(ctx.artifacts) / "learned_embeds.safetensors"
    save_file({params.token: table[new_id].detach().cpu().clone().contiguous()}, str(out))
    ctx.log(f"embedding written to {out}; use it with diffusion.alignit custom={out} concept={params.token}")
    if params.sample_seeds:
        after = sample_seeds(pipe, params.sample_seeds, params.sample_steps, 5.0, prompt=prompt)
        yield ImageGrid(name="before-after", title=f"{prompt!r}: initial ({params.init_word}) vs learnt embedding",
                        images=before + after, ncols=len(before),
                        captions=[f"before, seed {s}" for s in params.sample_seeds]
                        + [f"after, seed {s}" for s in params.sample_seeds])
