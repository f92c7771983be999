"""Held-out measurements of a CLIP on the shapes world: zero-shot attributes, retrieval, foils.

These numbers are the zoo card's; ``clip.evaluate`` and the training task's periodic checks call them.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from wb_shapes.world import COLOURS, FOIL_KINDS, SHAPES, Scene


@torch.no_grad()
def embed_images(clip, scenes: list[Scene], batch_size: int = 256) -> torch.Tensor:
    return torch.cat([clip.encode_image([s.image for s in scenes[i:i + batch_size]])
                      for i in range(0, len(scenes), batch_size)])


@torch.no_grad()
def embed_texts(clip, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    return torch.cat([clip.encode_text(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)])


@torch.no_grad()
def zero_shot(clip, scenes: list[Scene], batch_size: int = 256) -> dict[str, float]:
    """Colour, shape and colour+shape accuracy of one-object scenes against ``"a {colour} {shape}"`` prompts.

    A colour's class embedding is the mean over all shapes of its prompts (and vice versa): prompt
    ensembling, so the classifier never sees the scene's other attribute. Chance: 1/colours, 1/shapes.
    """
    colours, shapes = list(COLOURS), list(SHAPES)
    prompts = [f"a {c} {s}" for c, s in itertools.product(colours, shapes)]
    text = embed_texts(clip, prompts, batch_size).reshape(len(colours), len(shapes), -1)
    colour_cls = F.normalize(text.mean(1), dim=-1)
    shape_cls = F.normalize(text.mean(0), dim=-1)
    image = embed_images(clip, scenes, batch_size)
    truth_c = torch.tensor([colours.index(s.objects[0].colour) for s in scenes])
    truth_s = torch.tensor([shapes.index(s.objects[0].shape) for s in scenes])
    combo = (image @ text.reshape(len(prompts), -1).T).argmax(1)
    return {
        "colour_accuracy": float(((image @ colour_cls.T).argmax(1) == truth_c).float().mean()),
        "shape_accuracy": float(((image @ shape_cls.T).argmax(1) == truth_s).float().mean()),
        "colour_shape_accuracy": float((combo == truth_c * len(shapes) + truth_s).float().mean()),
    }


@torch.no_grad()
def retrieval(clip, scenes: list[Scene], batch_size: int = 256) -> dict[str, float]:
    """Recall@1/@5 of short captions among all the scenes' captions, both directions.

    Scenes with identical captions count as hits for each other (the caption cannot tell them apart).
    """
    captions = [s.caption for s in scenes]
    image, text = embed_images(clip, scenes, batch_size), embed_texts(clip, captions, batch_size)
    sims = image @ text.T
    same = torch.tensor([[a == b for b in captions] for a in captions])
    out = {}
    for direction, matrix in (("image_to_text", sims), ("text_to_image", sims.T)):
        top = matrix.topk(min(5, len(scenes)), dim=1).indices
        hits = same.gather(1, top)
        out[f"{direction}_r1"] = float(hits[:, 0].float().mean())
        out[f"{direction}_r5"] = float(hits.any(1).float().mean())
    return out


@torch.no_grad()
def foil_test(clip, scenes: list[Scene], batch_size: int = 256) -> dict[str, float]:
    """Per foil kind, the share of scenes whose true caption scores higher than its one-word foil."""
    image = embed_images(clip, scenes, batch_size)
    true = (image * embed_texts(clip, [s.caption for s in scenes], batch_size)).sum(1)
    out = {}
    for kind in FOIL_KINDS:
        idx = [i for i, s in enumerate(scenes) if kind in s.foils]
        if not idx:
            continue
        foil = embed_texts(clip, [scenes[i].foils[kind].caption for i in idx], batch_size)
        out[f"foil_{kind}"] = float(((image[idx] * foil).sum(1) < true[idx]).float().mean())
    return out


def summary_rows(metrics: dict[str, float], chance: dict[str, float]) -> list[list]:
    """``[metric, value, chance]`` rows for a metrics table; ``-`` where chance is not one number (retrieval)."""
    return [[k, round(float(v), 4), round(chance[k], 4) if k in chance else "-"] for k, v in metrics.items()]


def card_metrics(clip, data_seed: int = 0, n_single: int = 400, n_scenes: int = 500, n_novel: int = 300,
                 image_size: int = 64, batch_size: int = 256) -> dict[str, float]:
    """All card numbers on held-out scenes: test-split zero-shot, retrieval and foils, novel-combination zero-shot."""
    from wb_shapes.world import generate_scenes

    single = generate_scenes(n_single, "test", data_seed, image_size, 1, 1, start=SINGLE_START)
    scenes = generate_scenes(n_scenes, "test", data_seed, image_size)
    novel = generate_scenes(n_novel, "novel", data_seed, image_size, 1, 1)
    out = {f"test_{k}": v for k, v in zero_shot(clip, single, batch_size).items()}
    out.update(retrieval(clip, scenes, batch_size))
    out.update(foil_test(clip, scenes, batch_size))
    out.update({f"novel_{k}": v for k, v in zero_shot(clip, novel, batch_size).items()})
    return out


SINGLE_START = 1_000_000
CHANCE = {"test_colour_accuracy": 1 / len(COLOURS), "test_shape_accuracy": 1 / len(SHAPES),
          "test_colour_shape_accuracy": 1 / (len(COLOURS) * len(SHAPES)),
          "novel_colour_accuracy": 1 / len(COLOURS), "novel_shape_accuracy": 1 / len(SHAPES),
          "novel_colour_shape_accuracy": 1 / (len(COLOURS) * len(SHAPES)),
          **{f"foil_{k}": 0.5 for k in FOIL_KINDS}}
