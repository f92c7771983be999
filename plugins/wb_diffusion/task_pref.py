"""Tasks ``diffusion.make-pairs``, ``diffusion.mapo`` and ``diffusion.dpo``: preference data and the two tuners."""

from __future__ import annotations

from pathlib import Path

from wb_diffusion.params_pref import DpoParams, MakePairsParams, MapoParams
from wb_diffusion.preference import clip_cosine_reward, reward_ranked_pairs, shape_foil_pairs, write_pairs
from workbench.api import (
    ImageGrid,
    MetricsTable,
    Progress,
    RunContext,
    UserError,
    load_clip,
    load_sample,
    load_zoo_model,
    zoo_card,
)

CAPTIONS_PER_PROGRESS = 16


def ranking_reward(name: str, device: str):
    """``reward`` as a scorer of pictures for a caption: a zoo model that has a ``score(images, caption)`` method
    (a reward model such as ``shapes-reward``), else a CLIP's image/text cosine (zoo id, open_clip name or
    ``local-dir:``)."""
    try:
        zoo_card(name)
    except UserError:  # not a zoo id
        return clip_cosine_reward(load_clip(name, device=device))
    model = load_zoo_model(name)  # by the card's loader, on the CPU
    if hasattr(model, "score"):
        return model.to(device).score
    if not hasattr(model, "encode_image"):
        raise UserError(f"reward={name}: this zoo model is neither a CLIP nor a reward model (it has no "
                        "score(images, caption)); name a CLIP such as tiny-clip or a reward model such as "
                        "shapes-reward")
    return clip_cosine_reward(model if device == "cpu" else load_clip(name, device=device))


def run_make_pairs(params: MakePairsParams, ctx: RunContext):
    """Shapes pairs (drawn foils, or on-policy model samples ranked by a reward) written as a folder + pairs.jsonl;
    the captions are the train split's unless ``split`` says otherwise."""
    folder = Path(params.out).expanduser() if params.out else ctx.artifacts / "pairs"
    if folder.exists() and not folder.is_dir():
        raise UserError(f"out={params.out}: is a file; name a folder for the pairs")
    if params.source == "foils":
        pairs = shape_foil_pairs(params.n, seed=params.data_seed, split=params.split, image_size=params.image_size,
                                 kinds=params.foil_kinds)
    else:
        from wb_diffusion.pipelines import load_pipeline

        pipe = load_pipeline(params.model, device=ctx.device, lora=params.lora)
        captions = [s.caption for s in load_sample("shapes", split=params.split, n=params.n, seed=params.data_seed,
                                                   min_objects=1, max_objects=1)]
        reward = ranking_reward(params.reward, ctx.device)
        pairs = []
        for start in range(0, len(captions), CAPTIONS_PER_PROGRESS):  # seeds as in one call over all captions
            ctx.check_cancelled()
            yield Progress(start / len(captions), f"sampling {params.k} images for each of captions "
                                                  f"{start + 1}.. of {len(captions)}")
            pairs += reward_ranked_pairs(pipe, captions[start:start + CAPTIONS_PER_PROGRESS], reward,
                                         seed=ctx.seed + params.k * start, steps=params.steps,
                                         guidance=params.guidance, k=params.k, min_margin=params.min_margin,
                                         per_caption=params.pairs_per_caption)
        if not pairs:
            raise UserError(f"min_margin={params.min_margin}: no caption's samples differ that much in "
                            f"{params.reward}'s reward; lower it or raise k")
        wanted = len(captions) * params.pairs_per_caption
        ctx.log(f"{wanted - len(pairs)} of {wanted} pairs dropped ({params.reward} reward gap below "
                f"min_margin={params.min_margin}, or a tie)")
    path = write_pairs(pairs, folder, seed=params.data_seed)
    ctx.log(f"{len(pairs)} pairs in {path}; train on them with diffusion.mapo --set pairs={path.parent}")
    shown = pairs[:8]
    yield ImageGrid(name="pairs", title="Chosen | rejected", ncols=2,
                    images=[im for p in shown for im in (p.chosen, p.rejected)],
                    captions=[c for p in shown for c in (f"chosen: {p.caption}", f"rejected ({p.where})")])
    yield MetricsTable(name="pairs-summary", title="Preference pairs", columns=["what", "value"],
                       rows=[["pairs", len(pairs)], ["source", params.source], ["folder", str(path.parent)]],
                       notes=f"read them back with pairs={path.parent}")


def run_mapo(params: MapoParams, ctx: RunContext):
    from wb_diffusion.train_pref import train_preference

    return train_preference("mapo", params, ctx)


def run_dpo(params: DpoParams, ctx: RunContext):
    from wb_diffusion.train_pref import train_preference

    return train_preference("dpo", params, ctx)
