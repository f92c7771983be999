"""The CLIP evaluation task (``clip.evaluate``): reproduces the tiny CLIP card's held-out numbers.

Works for any CLIP the loading service gives (zoo, local file, ``local-dir:``): the zoo card's numbers
come from ``model=tiny-clip`` with the default scene counts.
"""

from __future__ import annotations

import torch

from wb_shapes.metrics import CHANCE, card_metrics, summary_rows
from wb_shapes.params import EvaluateClipParams
from wb_shapes.world import generate_scenes
from workbench.api import ImageGrid, MetricsTable, Progress, RunContext, load_clip, user_zoo, zoo_card


def _foil_examples(clip, params: EvaluateClipParams, n: int = 8) -> ImageGrid:
    scenes = generate_scenes(n, "test", params.data_seed, params.image_size, 2, 3)
    captions = []
    with torch.no_grad():
        for scene in scenes:
            foil = scene.foils["colour"]
            true, fake = clip.similarity(scene.image, [scene.caption, foil.caption])[0].tolist()
            order = ">" if true > fake else "<="
            captions.append(f"{foil.original_word}->{foil.new_word}: {true:.2f} {order} {fake:.2f}")
    return ImageGrid(name="foil-examples", title="Colour foils: cosine of the true caption vs the foil",
                     images=[s.image for s in scenes], captions=captions, ncols=4)


def run(params: EvaluateClipParams, ctx: RunContext):
    clip = load_clip(params.model, weights=params.weights or None, device=ctx.device)
    ctx.log(f"evaluating {clip.architecture} from {clip.source}")
    yield Progress(0.1, "measuring held-out metrics")
    metrics = card_metrics(clip, params.data_seed, params.n_single, params.n_scenes, params.n_novel,
                           params.image_size, params.batch_size)
    yield MetricsTable(name="held-out", title=f"{clip.architecture} on held-out shapes scenes",
                       columns=["metric", "value", "chance"], rows=summary_rows(metrics, CHANCE),
                       notes=f"weights: {clip.source}; data seed {params.data_seed}; {params.n_single} one-object "
                             f"test scenes, {params.n_scenes} test scenes, {params.n_novel} novel-combination scenes")
    yield _foil_examples(clip, params)
    if params.update_card:
        card = zoo_card(params.model)
        if not card.folder.resolve().is_relative_to(user_zoo().resolve()):
            raise ValueError(f"update_card: {card.folder} is not in your zoo ({user_zoo()}); the shipped zoo is "
                             "read-only (the project's developers set WORKBENCH_ZOO=models to refresh it)")
        updated = card.model_copy(update={"metrics": {k: round(float(v), 4) for k, v in metrics.items()}})
        (card.folder / "card.json").write_text(updated.to_json())
        ctx.log(f"metrics written to {card.folder / 'card.json'}")
