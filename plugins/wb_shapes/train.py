"""The tiny CLIP training task (``clip.train``): contrastive learning on freshly drawn shapes-world scenes.

Step ``k`` draws train-split scenes ``k*B .. k*B+B-1``, so a resumed run sees exactly the data it would
have seen. The loss is CLIP's symmetric InfoNCE; with ``foil_negatives`` each image also competes
against the batch's one-word foils (NegCLIP-style), which teaches the model that single words matter. With
``counterfactual_fraction`` a share of scenes also come redrawn with their shape foil made true, paired
with that foil: a hard negative image for the caption as well as a hard negative caption for the image.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from wb_shapes.captions import training_pair
from wb_shapes.metrics import CHANCE, SINGLE_START, card_metrics, foil_test, retrieval, summary_rows, zero_shot
from wb_shapes.params import TrainClipParams
from wb_shapes.world import Scene, generate_scenes, shape_counterfactual
from wb_shapes.zoo import ARCHITECTURE, make_card
from workbench.api import Curves, MetricsTable, Progress, RunContext, load_clip, save_clip_dir

_SHORT = 40
SINGLE_TRAIN_START = 50_000_000


def encode_texts_grouped(clip, tokens: torch.Tensor) -> torch.Tensor:
    """Normalised text embeddings; short and long captions run trimmed to their own lengths (same numbers)."""
    lengths = tokens.argmax(dim=-1) + 1
    out = None
    for mask in (lengths <= _SHORT, lengths > _SHORT):
        if not mask.any():
            continue
        group = tokens[mask]
        pooled = clip.text_states(group[:, : int(lengths[mask].max())]).pooled
        if out is None:
            out = pooled.new_zeros(len(tokens), pooled.shape[-1])
        out = out.index_put((mask.nonzero().squeeze(1),), pooled)
    return F.normalize(out, dim=-1)


def _batch(params: TrainClipParams, step: int) -> tuple[list[Scene], list[Scene | None]]:
    """Train scenes ``step*B ..`` plus, for ``single_object_fraction``, one-object scenes from an index range
    of their own (``SINGLE_TRAIN_START + step*B ..``) in the same train split; and for each group's first
    ``counterfactual_fraction`` its shape counterfactual (``None`` where there is none)."""
    n_single = int(round(params.single_object_fraction * params.batch_size))
    start = step * params.batch_size
    groups = [(params.batch_size - n_single, start, 1, 4), (n_single, SINGLE_TRAIN_START + start, 1, 1)]
    scenes: list[Scene] = []
    counterfactuals: list[Scene | None] = []
    for n, first, lo, hi in groups:
        group = generate_scenes(n, "train", params.data_seed, params.image_size, lo, hi, start=first)
        n_cf = int(round(params.counterfactual_fraction * n))
        scenes += group
        counterfactuals += [shape_counterfactual(sc, params.data_seed, params.image_size, lo, hi) if i < n_cf
                            else None for i, sc in enumerate(group)]
    return scenes, counterfactuals


def _param_groups(model, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        exclude = p.ndim < 2 or "ln" in name or "bias" in name or "logit_scale" in name or "embedding" in name
        (no_decay if exclude else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr(step: int, params: TrainClipParams) -> float:
    if step < params.warmup_steps:
        return params.lr * (step + 1) / params.warmup_steps
    progress = (step - params.warmup_steps) / max(1, params.steps - params.warmup_steps)
    return params.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _quick_check(clip, params: TrainClipParams) -> dict[str, float]:
    n = min(200, params.final_eval_scenes)
    scenes = generate_scenes(n, "test", params.data_seed, params.image_size)
    single = generate_scenes(n, "test", params.data_seed, params.image_size, 1, 1, start=SINGLE_START)
    out = foil_test(clip, scenes)
    out.update(retrieval(clip, scenes))
    out.update(zero_shot(clip, single))
    return out


def run(params: TrainClipParams, ctx: RunContext):
    if params.threads:
        torch.set_num_threads(params.threads)
    clip = load_clip(ARCHITECTURE, weights="random", device=ctx.device)
    model = clip.model
    opt = torch.optim.AdamW(_param_groups(model, params.weight_decay), lr=params.lr, betas=(0.9, 0.98), eps=1e-6)
    curves: dict[str, list[list[float]]] = {"loss": [], "foil_colour": [], "foil_shape": [], "image_to_text_r1": [],
                                            "colour_accuracy": [], "shape_accuracy": []}
    start = 0
    dist = ctx.distributed()
    signature = {"steps": params.steps, "batch_size": params.batch_size, "data_seed": params.data_seed}
    if params.resume:
        state = ctx.resume(params.resume, model, opt, signature=signature)
        start = state.step
        curves.update({k: v.tolist() for k, v in state.extra["curves"].items()})
    t0 = time.monotonic()
    running = None
    end = min(params.steps, params.stop_after or params.steps)
    for step in range(start, end):
        model.train()
        scenes, counterfactuals = _batch(params, step)
        rng = np.random.default_rng([params.data_seed, step])
        texts = [training_pair(s, rng, params.drop_size_fraction, params.long_caption_fraction,
                               params.shape_foil_share, force_shape_foil=cf is not None)
                 for s, cf in zip(scenes, counterfactuals)]
        mine = dist.share(list(range(len(scenes))))
        scenes, counterfactuals, texts = ([seq[i] for i in mine] for seq in (scenes, counterfactuals, texts))
        pictured = [(cf, t.apply(cf)) for cf, t in zip(counterfactuals, texts) if cf is not None]
        foils = [t.foil for t, cf in zip(texts, counterfactuals) if cf is None] if params.foil_negatives else []
        positives = [t.caption for t in texts] + [text for _, text in pictured]
        tokens = clip.tokenizer(positives + foils, context_length=clip.context_length).to(ctx.device)
        images = clip.preprocess([s.image for s in scenes] + [cf.image for cf, _ in pictured])
        for group in opt.param_groups:
            group["lr"] = _lr(step, params)
        local_txt = encode_texts_grouped(clip, tokens)
        img = dist.gather(model.encode_image(images, normalize=True))
        cap = dist.gather(local_txt[: len(positives)])
        txt = torch.cat([cap, dist.gather(local_txt[len(positives):])])
        scale = model.logit_scale.exp().clamp(max=100)
        target = torch.arange(len(cap), device=img.device)
        loss = 0.5 * (F.cross_entropy(scale * img @ txt.T, target) + F.cross_entropy(scale * cap @ img.T, target))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(model)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        curves["loss"].append([step + 1, running])
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, model, opt, signature=signature,
                                extra={"curves": {k: torch.tensor(v, dtype=torch.float64) for k, v in curves.items()}})
        if done % params.eval_every == 0 or done == params.steps:
            model.eval()
            check = _quick_check(clip, params)
            for key in ("foil_colour", "foil_shape", "image_to_text_r1", "colour_accuracy", "shape_accuracy"):
                curves[key].append([done, check[key]])
            ctx.log(f"step {done}: loss {running:.3f}, " + ", ".join(f"{k} {v:.3f}" for k, v in check.items()))
            yield Curves(name="training", title="Tiny CLIP training", x_label="step",
                         series={k: np.array(v).T for k, v in curves.items() if v})
        rate = (time.monotonic() - t0) / (done - start)
        yield Progress(done / params.steps, f"step {done}/{params.steps}: loss {running:.3f} "
                       f"({rate:.2f} s/step)", metrics={"loss": running})
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    model.eval()
    folder = save_clip_dir(clip, ctx.artifacts / "tiny-clip", half=True)
    reloaded = load_clip(f"local-dir:{folder}", device=ctx.device)
    n = params.final_eval_scenes
    metrics = card_metrics(reloaded, params.data_seed, n * 4 // 5, n, n * 3 // 5, params.image_size)
    card = make_card(folder, metrics, params.model_dump())
    (folder / "card.json").write_text(card.to_json())
    ctx.log(f"tiny CLIP written to {folder}")
    if params.publish:
        ctx.publish_model(card, {name: folder / name for name in ("open_clip_config.json", card.weights)})
    yield MetricsTable(name="held-out", title="Tiny CLIP on held-out shapes scenes",
                       columns=["metric", "value", "chance"], rows=summary_rows(metrics, CHANCE),
                       notes=f"weights: {folder}")
