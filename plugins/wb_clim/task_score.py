"""Task ``clim.region-score``: score boxes against a vocabulary with dense (region) CLIP features.

The CLIP's dense map (value path in the last block, ``LoadedClip.dense_features``) is pooled per box by RoIAlign
(``LoadedClip.region_features``) and compared with prompted class names: per-box softmax probabilities over the
vocabulary, top-k labels, the box x class cosines, and per predicted class the dense similarity map.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from wb_clim.engine import DenseMaps
from wb_clim.inputs import Inputs, Item, gather, shapes_vocabulary
from wb_clim.params import RegionScoreParams
from wb_clim.scoring import BoxScores, class_embeddings, model_temperature, score_regions
from wb_clim.vocabulary import attribute_vocabulary, check_classes, check_template, prompts, truth_index
from workbench.api import HeatmapGrid, MetricsTable, Progress, Regions, RunContext, UserError, load_clip

CROP_SIZE = 96


def vocabulary_for(params: RegionScoreParams, inputs: Inputs) -> tuple[list[str], str]:
    """The class names and where they came from: the parameter, the COCO categories, or colour x shape."""
    if params.classes:
        return check_classes(params.classes), "the 'classes' parameter"
    if inputs.categories:
        return check_classes(inputs.categories), "the COCO file's categories"
    return check_classes(attribute_vocabulary(inputs.vocabulary or shapes_vocabulary())), \
        "the shapes world's colour x shape vocabulary"


def skipped_summary(inputs: Inputs) -> str:
    if not inputs.skipped:
        return f"all {inputs.given} boxes scored"
    return (f"{inputs.skipped} of {inputs.given} boxes skipped:\n" + "\n".join(f"- {p}" for p in inputs.problems))


def all_skipped_error(inputs: Inputs) -> UserError:
    listed = "; ".join(inputs.problems[:5]) + ("; ..." if len(inputs.problems) > 5 else "")
    return UserError(f"nothing to score: all {inputs.given} boxes were skipped ({listed})" if inputs.given else
                     "nothing to score: no boxes were given")


def dense_class_maps(dense: torch.Tensor, text: torch.Tensor) -> np.ndarray:
    """``[C, h, w]`` cosines of each (normalised) token of ``dense [D, h, w]`` with class embeddings ``[C, D]``."""
    dense = torch.nn.functional.normalize(dense, dim=0)
    return torch.einsum("dhw,cd->chw", dense, text).cpu().numpy()


def score_item(clip, maps: DenseMaps, item: Item, text: torch.Tensor, temperature: float
               ) -> tuple[torch.Tensor, BoxScores]:
    with torch.no_grad():
        dense = maps(item.image)[0]
        regions = clip.region_features(dense, np.asarray(item.boxes, np.float64), item.image.shape[:2])
        return dense, score_regions(regions, text, temperature)


def box_crop(image: np.ndarray, box, size: int = CROP_SIZE) -> np.ndarray:
    """The box's pixels (at least one), longer side at most ``size``: the picture of the box's table row."""
    h, w = image.shape[:2]
    x0, y0 = min(max(int(np.floor(box[0])), 0), w - 1), min(max(int(np.floor(box[1])), 0), h - 1)
    x1, y1 = max(min(int(np.ceil(box[2])), w), x0 + 1), max(min(int(np.ceil(box[3])), h), y0 + 1)
    crop = image[y0:y1, x0:x1]
    scale = size / max(crop.shape[:2])
    if scale >= 1:
        return np.ascontiguousarray(crop)
    return cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)


def run(params: RegionScoreParams, ctx: RunContext):
    template = check_template(params.template)
    inputs = gather(params.image, params.boxes, params.image_root, params.n_scenes, params.data_seed,
                    params.image_size, params.min_objects, params.max_objects)
    for problem in inputs.problems:
        ctx.log(f"warning: {problem}")
    classes, origin = vocabulary_for(params, inputs)
    if not inputs.items:
        raise all_skipped_error(inputs)
    clip = load_clip(params.model, weights=params.weights or None, device=ctx.device)
    ctx.log(f"CLIP {clip.architecture} from {clip.source}; {len(classes)} classes from {origin}")
    text = class_embeddings(clip, prompts(classes, template))
    temperature = params.temperature or model_temperature(clip)
    engine = DenseMaps(clip, ctx, params.inference_size or None)
    first = inputs.items[0]
    parity = engine.parity([first.image], [np.asarray(first.boxes, np.float64)], first.image.shape[:2], text)
    if parity is not None:
        ctx.log(parity.describe())
    predictions, similarities, crops = [], [], []
    hits, known = 0, 0
    for k, item in enumerate(inputs.items):
        ctx.check_cancelled()
        dense, scores = score_item(clip, engine, item, text, temperature)
        top, top_p = scores.top(params.top_k)
        for j, (box, name, label) in enumerate(zip(item.boxes, item.box_names, item.truth)):
            truth = truth_index(label, classes)
            correct = None if truth is None else bool(top[j, 0] == truth)
            if truth is not None:
                known += 1
                hits += int(correct)
            labels = ", ".join(f"{classes[c]} {p:.2f}" for c, p in zip(top[j], top_p[j]))
            predictions.append([item.name, name, *(round(float(v), 1) for v in box), label or "",
                                classes[top[j, 0]], float(top_p[j, 0]), labels, correct])
            similarities.append([item.name, name, *(float(v) for v in scores.cosines[j])])
            crops.append(box_crop(item.image, box))
        if k < params.max_views:
            yield Regions(name=f"regions-{k}", title=f"{item.name}: top-1 class per box (probability)",
                          image=item.image, boxes=np.asarray(item.boxes, np.float64),
                          labels=[classes[c] for c in top[:, 0]], scores=top_p[:, 0].astype(np.float64))
            shown = list(dict.fromkeys(int(c) for c in top[:, 0]))
            maps = dense_class_maps(dense, text[shown])
            yield HeatmapGrid(name=f"class-maps-{k}", title=f"{item.name}: dense similarity to each predicted class",
                              images=[item.image], heats=[m for m in maps], labels=[classes[c] for c in shown],
                              caption=f"token grid {maps.shape[1]}x{maps.shape[2]}; cosine of each token with "
                                      f"{template!r}")
        yield Progress((k + 1) / len(inputs.items), f"image {k + 1}/{len(inputs.items)}")
    accuracy = f"; top-1 accuracy on the {known} boxes with a known class: {hits / known:.3f}" if known else ""
    notes = "\n".join([f"CLIP {clip.architecture} ({clip.source}); {len(classes)} classes from {origin}; template "
                       f"{template!r}; temperature {temperature:g}; backend {ctx.backend}{accuracy}",
                       *([parity.describe()] if parity else []), skipped_summary(inputs), *inputs.notes])
    yield MetricsTable(name="predictions", title="Boxes: true label, top-1 class and probability, top-k",
                       columns=["image", "box", "x0", "y0", "x1", "y1", "truth", "top-1", "p(top-1)",
                                f"top-{min(params.top_k, len(classes))}", "correct"],
                       rows=predictions, notes=notes, thumbnails=crops)
    yield MetricsTable(name="similarity", title="Box x class cosine similarity",
                       columns=["image", "box", *classes], rows=similarities, notes=notes)
