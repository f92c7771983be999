"""The checker training task (``shapes.train-checker``) and the held-out measurement its card reports.

Step ``k`` draws train-split scenes (1-4 objects from index 0 on, one-object scenes from
:data:`SINGLE_TRAIN_START` on) and, for ``novel_fraction``, novel-split scenes from :data:`NOVEL_TRAIN_START` on;
its augmentation comes from a generator seeded by ``(data_seed, k)``: a resumed run sees exactly the data an
uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from wb_shapes.checker import (
    N_COLOURS,
    STRIDE,
    ShapesChecker,
    make_card,
    save_checker,
    targets,
)
from wb_shapes.judge import PromptSpec, ShapesJudge
from wb_shapes.params import TrainCheckerParams
from wb_shapes.supervised_loop import augmented_batch, train_supervised
from wb_shapes.world import COLOURS, SHAPES, generate_scenes
from workbench.api import MetricsTable, RunContext


def _loss(logits: torch.Tensor, obj: torch.Tensor, colour: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    """Objectness BCE summed over cells, plus the colour and shape cross-entropy at the objects' cells."""
    bce = F.binary_cross_entropy_with_logits(logits[:, 0], obj, reduction="none").flatten(1).sum(1).mean()
    return (bce + F.cross_entropy(logits[:, 1:1 + N_COLOURS], colour, ignore_index=-1)
            + F.cross_entropy(logits[:, 1 + N_COLOURS:], shape, ignore_index=-1))


def degrade(images: np.ndarray, seed: int) -> np.ndarray:
    """A fixed mild blur and noise, the kind of softness a small generator's samples have."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.stack([cv2.GaussianBlur(im, (3, 3), 0.8) for im in images]).astype(np.float32)
    return np.clip(out + rng.normal(0, 10, out.shape), 0, 255).astype(np.uint8)


def _set_accuracy(probs: np.ndarray, truth: list[set[str]], names: tuple[str, ...]) -> float:
    found = [{names[j] for j in np.flatnonzero(p > 0.5)} for p in probs]
    return float(np.mean([f == t for f, t in zip(found, truth)]))


def checker_metrics(judge: ShapesJudge, seed: int, n: int, image_size: int) -> dict[str, float]:
    """Per-head accuracy on ``n`` test scenes, and follow rates: true renders, their colour and shape foils
    (a low rate is right), novel-split scenes (held-out combinations) and blurred, noisy renders."""
    scenes = generate_scenes(n, "test", seed, image_size)
    images = np.stack([s.image for s in scenes])
    specs = [PromptSpec.from_scene(s, seed, image_size) for s in scenes]
    reading = judge.read(images)
    combos = tuple(f"{c} {s}" for c in COLOURS for s in SHAPES)
    out = {
        "count_accuracy": float(np.mean(reading.count == np.array([len(s.objects) for s in scenes]))),
        "colour_set_accuracy": _set_accuracy(reading.colour_probs, [{o.colour for o in s.objects} for s in scenes],
                                             tuple(COLOURS)),
        "shape_set_accuracy": _set_accuracy(reading.shape_probs, [{o.shape for o in s.objects} for s in scenes],
                                            SHAPES),
        "combo_set_accuracy": _set_accuracy(reading.combo_probs.reshape(n, -1),
                                            [{f"{o.colour} {o.shape}" for o in s.objects} for s in scenes], combos),
        "follow_rate_true": judge.judge(images, specs).rate()["follows"],
    }
    for kind in ("colour", "shape"):
        foils = [PromptSpec.parse(s.foils[kind].caption) for s in scenes]
        out[f"follow_rate_{kind}_foil"] = judge.judge(images, foils).rate()["follows"]
    out["follow_rate_degraded"] = judge.judge(degrade(images, seed), specs).rate()["follows"]
    novel = generate_scenes(n, "novel", seed, image_size)
    out["follow_rate_novel"] = judge.judge(np.stack([s.image for s in novel]),
                                           [PromptSpec.from_scene(s, seed, image_size) for s in novel]
                                           ).rate()["follows"]
    return out


def run(params: TrainCheckerParams, ctx: RunContext):
    if params.threads:
        torch.set_num_threads(params.threads)
    torch.manual_seed(ctx.seed)
    model = ShapesChecker(width=params.width, input_size=params.image_size).to(ctx.device)
    judge = ShapesJudge(model, ctx.device)

    def step_loss(step: int) -> torch.Tensor:
        scenes, x, theta = augmented_batch(params, step, params.novel_fraction)
        truth = targets([s.objects for s in scenes], params.image_size, theta, params.image_size // STRIDE)
        return _loss(model(x.to(ctx.device)), *(t.to(ctx.device) for t in truth))

    signature = {"steps": params.steps, "batch_size": params.batch_size, "data_seed": params.data_seed,
                 "width": params.width, "image_size": params.image_size}
    finished = yield from train_supervised(
        model, params, ctx, step_loss, lambda: checker_metrics(judge, params.data_seed, 200, params.image_size),
        {"follow_rate": "follow_rate_true", "count_accuracy": "count_accuracy"}, "Shapes checker training",
        signature, pct_start=0.1)
    if not finished:
        return
    model = model.cpu().eval()
    out = ctx.artifacts / "model.safetensors"
    save_checker(model, out)
    metrics = checker_metrics(ShapesJudge(model), params.data_seed, params.eval_scenes, params.image_size)
    card = make_card(metrics, params.model_dump())
    (ctx.artifacts / "card.json").write_text(card.to_json())
    if params.publish:
        ctx.publish_model(card, {card.weights: out})
    ctx.log(f"checker written to {out}")
    yield MetricsTable(name="held-out", title="Shapes checker on held-out scenes", columns=["metric", "value"],
                       rows=[[k, v] for k, v in metrics.items()], notes=f"weights: {out}")
