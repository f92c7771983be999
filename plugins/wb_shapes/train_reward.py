"""The reward model's training task (``shapes.train-reward``) and the held-out measurement its card reports.

Step ``k`` draws train-split scenes (1-4 objects from index 0 on, one-object scenes from
:data:`~wb_shapes.checker.SINGLE_TRAIN_START` on) of its own world seed, augmented as the checker's training is
(a generator seeded by ``(data_seed, k)``, so a resumed run sees the data an uninterrupted one would).
"""

from __future__ import annotations

import numpy as np
import torch

from wb_shapes.checker import SINGLE_TRAIN_START, as_batch
from wb_shapes.params import TrainRewardParams
from wb_shapes.reward import (
    ARCHITECTURE,
    RECIPE,
    ZOO_ID,
    AttributeReward,
    attribute_targets,
    foil_preference,
    reward_loss,
    save_reward,
)
from wb_shapes.supervised_loop import augmented_batch, train_supervised
from wb_shapes.train_checker import degrade
from wb_shapes.world import COLOURS, SHAPES, generate_scenes
from workbench.api import MetricsTable, ModelCard, RunContext


def reward_metrics(model: AttributeReward, seed: int, n: int, image_size: int) -> dict[str, float]:
    """On ``n`` one-object test scenes: colour, shape and count read right (argmax), and how often the reward
    prefers the scene's caption to its colour and its shape foil, on the clean and on blurred, noisy renders."""
    scenes = generate_scenes(n, "test", seed, image_size, 1, 1)
    images = np.stack([s.image for s in scenes])
    with torch.no_grad():
        out = model.eval()(as_batch(images))
    colour, shape, count = attribute_targets([s.objects for s in scenes])
    n_colours, n_shapes = len(COLOURS), len(SHAPES)
    metrics = {
        "colour_accuracy": float((out[:, :n_colours].argmax(1) == colour.argmax(1)).float().mean()),
        "shape_accuracy": float((out[:, n_colours:n_colours + n_shapes].argmax(1) == shape.argmax(1)).float().mean()),
        "count_accuracy": float((out[:, n_colours + n_shapes:].argmax(1) == count).float().mean()),
    }
    captions = [s.caption for s in scenes]
    for kind in ("colour", "shape"):
        foils = [s.foils[kind].caption for s in scenes]
        metrics[f"prefers_caption_to_{kind}_foil"] = foil_preference(model, images, captions, foils)
    foils = [s.foils["shape"].caption for s in scenes]
    metrics["prefers_caption_to_shape_foil_degraded"] = foil_preference(model, degrade(images, seed), captions,
                                                                        foils)
    return metrics


def make_card(metrics: dict[str, float], params: dict) -> ModelCard:
    return ModelCard(
        id=ZOO_ID, plugin="shapes-clip", title="Shapes reward model: colours, shapes and count of a picture",
        weights="model.safetensors",
        architecture=f"{ARCHITECTURE}(width={params['width']}): 5 conv blocks + BatchNorm, global average pooling, "
                     "one linear head (colour and shape presence logits, count 1-4); input RGB "
                     f"{params['image_size']}x{params['image_size']}; reward = mean over the caption's objects of "
                     "log p(colour) + log p(shape), plus log p(count)",
        recipe=RECIPE,
        data=f"shapes world seed {params['data_seed']} (the checker's is 0): {params['steps']} steps of "
             f"{params['batch_size']} fresh {params['image_size']} px train scenes (1-4 objects from index 0; a "
             f"share {params['single_fraction']} one-object scenes from index {SINGLE_TRAIN_START:,}); the checker's "
             f"augmentation at strength {params['augment']}. Metrics on one-object test-split scenes of the same seed",
        metrics={k: round(float(v), 4) for k, v in metrics.items()}, loader="wb_shapes.reward:load_card")


def run(params: TrainRewardParams, ctx: RunContext):
    if params.threads:
        torch.set_num_threads(params.threads)
    torch.manual_seed(ctx.seed)
    model = AttributeReward(width=params.width).to(ctx.device)

    def step_loss(step: int) -> torch.Tensor:
        scenes, x, _ = augmented_batch(params, step)
        truth = attribute_targets([s.objects for s in scenes])
        return reward_loss(model(x.to(ctx.device)), *(t.to(ctx.device) for t in truth))

    signature = {"steps": params.steps, "batch_size": params.batch_size, "data_seed": params.data_seed,
                 "width": params.width, "image_size": params.image_size}
    finished = yield from train_supervised(
        model, params, ctx, step_loss, lambda: reward_metrics(model, params.data_seed, 200, params.image_size),
        {"shape_accuracy": "shape_accuracy", "prefers_caption_to_shape_foil": "prefers_caption_to_shape_foil"},
        "Shapes reward model training", signature)
    if not finished:
        return
    model = model.cpu().eval()
    out = ctx.artifacts / "model.safetensors"
    save_reward(model, out)
    metrics = reward_metrics(model, params.data_seed, params.eval_scenes, params.image_size)
    card = make_card(metrics, params.model_dump())
    (ctx.artifacts / "card.json").write_text(card.to_json())
    if params.publish:
        ctx.publish_model(card, {card.weights: out})
    ctx.log(f"reward model written to {out}")
    yield MetricsTable(name="held-out", title="Shapes reward model on held-out scenes", columns=["metric", "value"],
                       rows=[[k, v] for k, v in metrics.items()], notes=f"weights: {out}")
