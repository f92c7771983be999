"""Task ``clim.tune``: CLIM tuning of a CLIP on captioned images (mosaics, frozen text, last blocks).

Step ``k`` takes train scenes ``k*B .. k*B+B-1`` with their short captions (or the next ``B`` images of a user's
captioned set, :mod:`wb_clim.captioned`), tiles them into mosaics as CLIM does
(:mod:`wb_clim.mosaic`) and minimises the region-caption contrastive loss (:mod:`wb_clim.loss`); only the last
``unlocked_blocks`` vision blocks and the logit scale learn. Checkpoints and resume are the run context's. The
saved weights are the ensemble ``alpha * tuned + (1 - alpha) * original`` as an open_clip folder that
``clim.evaluate`` loads with ``model=local-dir:<folder>`` (``publish`` also puts it into the user's zoo as
``clim-tiny-clip``); region top-1/top-5 and image-level zero-shot top-1 before and after are reported.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch

from wb_clim.captioned import read_captioned
from wb_clim.loss import clim_loss, unlock_last_blocks, weight_ensemble
from wb_clim.params import TuneParams
from wb_clim.plugin import ZOO_ID
from wb_clim.scoring import class_embeddings
from wb_clim.task_evaluate import SINGLE_START, accuracy, image_cosines, ranks, region_cosines
from wb_clim.vocabulary import attribute_vocabulary, prompts, truth_index
from workbench.api import (
    Curves,
    MetricsTable,
    ModelCard,
    Progress,
    RunContext,
    UserError,
    load_clip,
    load_sample,
    save_clip_dir,
)


def _lr(step: int, params: TuneParams) -> float:
    if step < params.warmup_steps:
        return params.lr * (step + 1) / params.warmup_steps
    progress = (step - params.warmup_steps) / max(1, params.steps - params.warmup_steps)
    return params.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _shapes_batch(step: int, params: TuneParams) -> tuple[list[np.ndarray], list[str]]:
    world = load_sample("shapes", split="train", n=params.batch_size, seed=params.data_seed,
                        image_size=params.image_size, min_objects=params.min_objects,
                        max_objects=params.max_objects, start=step * params.batch_size)
    return [s.image for s in world], [s.caption for s in world]


def held_out_accuracy(clip, params: TuneParams) -> dict[str, float]:
    """Region top-1/top-5 on ground-truth boxes of test scenes with 2-4 objects and image-level zero-shot top-1 on
    one-object test scenes (colour x shape, 'a {}'), as clim.evaluate measures them."""
    world = load_sample("shapes", split="test", n=params.eval_scenes, seed=params.data_seed,
                        image_size=params.image_size, min_objects=2, max_objects=4)
    single = load_sample("shapes", split="test", n=params.eval_scenes, seed=params.data_seed,
                         image_size=params.image_size, min_objects=1, max_objects=1, start=SINGLE_START)
    classes = attribute_vocabulary(world.vocabulary)
    truth = np.array([truth_index(o.label, classes) for s in world for o in s.objects])
    single_truth = np.array([truth_index(s.objects[0].label, classes) for s in single])
    with torch.no_grad():
        text = class_embeddings(clip, prompts(classes, "a {}"))
    r = ranks(region_cosines(clip, [s.image for s in world], [s.boxes for s in world], text, None, 64), truth)
    zero_shot = ranks(image_cosines(clip, [s.image for s in single], text, 64), single_truth)
    return {"region_top1": accuracy(r, 1), "region_top5": accuracy(r, 5),
            "image_zero_shot_top1": accuracy(zero_shot, 1)}


def publish(ctx: RunContext, folder: Path, params: TuneParams, before: dict[str, float], after: dict[str, float]
            ) -> None:
    """The saved weights and their card as zoo model ``clim-tiny-clip`` in the user's zoo."""
    metrics = {f"{k}_{when}": round(float(v), 4) for when, values in (("before", before), ("after", after))
               for k, v in values.items()}
    ensemble = (f"the ensemble {params.alpha:g} x tuned + {1 - params.alpha:g} x {params.model}" if params.alpha < 1
                else "tuned (alpha 1: no ensemble with the base)")
    objects = (f"{params.min_objects}-{params.max_objects} objects" if params.min_objects < params.max_objects
               else f"{params.min_objects} object{'s' if params.min_objects > 1 else ''} each")
    card = ModelCard(
        id=ZOO_ID, plugin="clim", title="Tiny CLIP tuned with CLIM for region classification",
        weights="open_clip_model.safetensors", recipe="zoo-clim-tiny-clip", loader="workbench.clip.loading:load_card",
        exporter="wb_clim.export:export_dense_encoder",
        architecture=f"{params.model} (open_clip folder, float16 storage) after CLIM: last {params.unlocked_blocks} "
                     f"vision blocks and the logit scale tuned, saved as {ensemble}",
        data=f"shapes world seed {params.data_seed}: train split scenes 0..{params.steps * params.batch_size - 1} "
             f"({objects}, {params.image_size} px, short captions) tiled "
             f"into {'/'.join(f'{g}x{g}' for g in params.grids)} mosaics, {params.batch_size} scenes a step; "
             f"metrics (before = {params.model}) on {params.eval_scenes} test scenes with 2-4 objects (region "
             f"top-1/top-5 of every ground-truth box, 70 colour x shape classes, prompt 'a {{}}', dense map at "
             f"{params.image_size} px) and {params.eval_scenes} one-object test scenes from index {SINGLE_START} "
             "(image-level zero-shot top-1)",
        metrics=metrics)
    ctx.publish_model(card, {name: folder / name for name in ("open_clip_config.json", card.weights)})


def run(params: TuneParams, ctx: RunContext):
    if not params.grids or any(g < 1 or g > 8 for g in params.grids):
        raise UserError(f"grids must be sizes from 1 to 8, got {params.grids}")
    clip = load_clip(params.model, weights=params.weights or None, device=ctx.device)
    model = clip.model
    blocks = len(model.visual.transformer.resblocks)
    if params.unlocked_blocks > blocks:
        raise UserError(f"unlocked_blocks={params.unlocked_blocks}, but {clip.architecture} has {blocks} vision "
                        "blocks")
    original = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.eval()
    before = held_out_accuracy(clip, params)
    ctx.log(f"before tuning: {before}")
    trainable = unlock_last_blocks(clip, params.unlocked_blocks)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=params.lr,
                            weight_decay=params.weight_decay, betas=(0.9, 0.98), eps=1e-6)
    if params.min_objects > params.max_objects:
        raise UserError(f"min_objects={params.min_objects} is larger than max_objects={params.max_objects}")
    mosaic_size = params.mosaic_size or (params.image_size * max(params.grids) if params.cell_scale == "reference"
                                         else None)
    captioned = read_captioned(params.captions, params.image_root, params.image_size, params.batch_size) \
        if params.captions else None
    if captioned is not None:
        ctx.log(f"captions={params.captions}: {captioned.summary()}")
    dist = ctx.distributed()
    signature = {"model": params.model, "steps": params.steps, "batch_size": params.batch_size,
                 "grids": list(params.grids), "data_seed": params.data_seed,
                 "objects": [params.min_objects, params.max_objects], "captions": params.captions}
    state = ctx.start_or_resume(params.resume, model, opt, signature=signature)
    start, losses = state.step, state.history("losses")
    end = min(params.steps, params.stop_after or params.steps)
    ctx.log(f"training {len(trainable)} tensors (last {params.unlocked_blocks} vision blocks + logit scale); "
            f"mosaics at {mosaic_size or 'their own size in'} px")
    for step in range(start, end):
        ctx.check_cancelled()
        images, captions = captioned.batch(step, params.batch_size, params.data_seed) if captioned else \
            _shapes_batch(step, params)
        for group in opt.param_groups:
            group["lr"] = _lr(step, params)
        model.train()
        loss = clim_loss(clip, images, captions, params.grids, mosaic_size, dist)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(model)
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        value = float(loss.detach())
        losses.append([step + 1, value])
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, model, opt, signature=signature,
                                extra={"losses": torch.tensor(losses, dtype=torch.float64)})
            yield Curves(name="loss", title="CLIM loss", x_label="step", y_label="region-caption InfoNCE",
                         series={"loss": np.array(losses).T})
        yield Progress(done / params.steps, f"step {done}/{params.steps}: loss {value:.3f}",
                       metrics={"loss": value})
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    model.eval()
    tuned = copy.deepcopy(model.state_dict())
    model.load_state_dict(weight_ensemble(original, tuned, params.alpha))
    for p in model.parameters():
        p.requires_grad_(True)
    folder = save_clip_dir(clip, ctx.artifacts / "clim-tuned", half=True)
    after = held_out_accuracy(load_clip(f"local-dir:{folder}", device=ctx.device), params)
    ctx.log(f"after tuning (ensemble alpha {params.alpha}): {after}; weights in {folder}")
    if params.publish:
        publish(ctx, folder, params, before, after)
    yield MetricsTable(name="before-after", title="Held-out accuracy on shapes test scenes, before and after CLIM",
                       columns=["metric", "before", "after"],
                       rows=[[k, round(before[k], 4), round(after[k], 4)] for k in before],
                       notes=(f"tuned on {params.captions}: {captioned.summary()}; " if captioned else "")
                       + f"{params.eval_scenes} test scenes (2-4 objects: region accuracy of every box) and "
                             f"{params.eval_scenes} one-object scenes (image zero-shot); weights alpha={params.alpha} "
                             "ensemble of the tuned "
                             f"and the original model; load them with model=local-dir:{folder}")
