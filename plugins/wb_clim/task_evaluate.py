"""Task ``clim.evaluate``: how well a CLIP's dense region features classify annotated objects.

On shapes test scenes (2-4 objects) every ground-truth box is classified against the colour x shape vocabulary
(``template`` prompts) by its RoIAlign region feature: top-1/top-5, mean per-class top-1, colour and shape
accuracy, per-class accuracy and the confusions. Two references: the crop baseline (the box cut out, resized and
encoded as a whole image) on the same boxes, and image-level zero-shot accuracy on one-object scenes (the tiny
CLIP card's set) next to the region accuracy of the same objects.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import torch

from wb_clim.engine import DenseMaps
from wb_clim.params import RegionEvaluateParams
from wb_clim.scoring import class_embeddings
from wb_clim.vocabulary import attribute_vocabulary, check_template, prompts, truth_index
from workbench.api import MetricsTable, Progress, Regions, RunContext, UserError, load_clip, load_sample

SINGLE_START = 1_000_000  # the one-object scenes of the tiny CLIP card's zero-shot numbers


def ranks(cosines: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """0-based rank of the true class in each row (0 = top-1); ties count against the truth."""
    true = cosines[np.arange(len(truth)), truth]
    return (cosines > true[:, None]).sum(1) + ((cosines == true[:, None]).sum(1) - 1)


def crops(images: list[np.ndarray], boxes: list[np.ndarray], size: int) -> list[np.ndarray]:
    """Each box cut out of its image (whole pixels covering it) and resized to ``size x size``."""
    out = []
    for image, per_image in zip(images, boxes):
        h, w = image.shape[:2]
        for x0, y0, x1, y1 in per_image:
            c0, r0 = int(np.floor(max(x0, 0))), int(np.floor(max(y0, 0)))
            c1, r1 = max(int(np.ceil(min(x1, w))), c0 + 1), max(int(np.ceil(min(y1, h))), r0 + 1)
            out.append(cv2.resize(np.ascontiguousarray(image[r0:r1, c0:c1]), (size, size),
                                  interpolation=cv2.INTER_CUBIC))
    return out


@torch.no_grad()
def region_cosines(clip, images, boxes, text, size, batch_size, maps: DenseMaps | None = None) -> np.ndarray:
    """Box x class cosines of every image's boxes; dense maps from ``maps`` (the run's engine) or torch."""
    maps = maps or DenseMaps(clip, size=size)
    out = []
    for i in range(0, len(images), batch_size):
        dense = maps(images[i:i + batch_size])
        regions = clip.region_features(dense, boxes[i:i + batch_size], images[i].shape[:2])
        out.append((torch.cat(regions) @ text.T).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(text)))


@torch.no_grad()
def image_cosines(clip, images, text, batch_size) -> np.ndarray:
    if not images:
        return np.zeros((0, len(text)))
    return np.concatenate([(clip.encode_image(images[i:i + batch_size]) @ text.T).cpu().numpy()
                           for i in range(0, len(images), batch_size)])


def accuracy(r: np.ndarray, k: int) -> float:
    return float((r < k).mean()) if len(r) else float("nan")


def run(params: RegionEvaluateParams, ctx: RunContext):
    template = check_template(params.template)
    if params.min_objects > params.max_objects:
        raise UserError(f"min_objects={params.min_objects} is larger than max_objects={params.max_objects}")
    clip = load_clip(params.model, weights=params.weights or None, device=ctx.device)
    ctx.log(f"evaluating {clip.architecture} from {clip.source}")
    world = load_sample("shapes", split="test", n=params.n_scenes, seed=params.data_seed,
                        image_size=params.image_size, min_objects=params.min_objects, max_objects=params.max_objects)
    colours, shapes = world.vocabulary["colour"], world.vocabulary["shape"]
    classes = attribute_vocabulary(world.vocabulary)
    text = class_embeddings(clip, prompts(classes, template))
    size = params.inference_size or None
    images = [s.image for s in world]
    boxes, truth, skipped = [], [], []
    for scene in world:
        kept = []
        for j, obj in enumerate(scene.objects):
            t = truth_index(obj.label, classes)
            if t is None:
                skipped.append(f"test-{scene.index} object {j}: label {obj.label!r} names no class")
            else:
                kept.append(obj.box)
                truth.append(t)
        boxes.append(np.asarray(kept, np.float64).reshape(-1, 4))
    truth = np.asarray(truth, int)
    if not len(truth):
        raise UserError("no object of the scenes names a vocabulary class: " + "; ".join(skipped[:5]))
    yield Progress(0.1, f"{len(truth)} boxes in {len(images)} scenes")
    maps = DenseMaps(clip, ctx, size)
    parity = maps.parity(images[:params.batch_size], boxes[:params.batch_size], images[0].shape[:2], text)
    if parity is not None:
        ctx.log(parity.describe())
    cos = region_cosines(clip, images, boxes, text, size, params.batch_size, maps)
    ctx.check_cancelled()
    yield Progress(0.5, "region features scored; crop baseline")
    crop_cos = image_cosines(clip, crops(images, boxes, clip.image_size), text, params.batch_size)
    single = load_sample("shapes", split="test", n=params.n_single, seed=params.data_seed,
                         image_size=params.image_size, min_objects=1, max_objects=1, start=SINGLE_START)
    single_truth = np.asarray([truth_index(s.objects[0].label, classes) for s in single], int)
    single_images = [s.image for s in single]
    yield Progress(0.75, "one-object scenes: image-level zero-shot")
    zs_cos = image_cosines(clip, single_images, text, params.batch_size)
    zs_region = region_cosines(clip, single_images, [s.boxes for s in single], text, size, params.batch_size, maps)

    r, crop_r = ranks(cos, truth), ranks(crop_cos, truth)
    pred = cos.argmax(1)
    n_shapes = len(shapes)
    present = sorted(set(truth.tolist()))
    per_class = {c: r[truth == c] for c in present}
    metrics = [
        ["region top-1", accuracy(r, 1), 1 / len(classes)],
        ["region top-5", accuracy(r, 5), min(5, len(classes)) / len(classes)],
        ["region mean per-class top-1", float(np.mean([accuracy(v, 1) for v in per_class.values()])),
         1 / len(classes)],
        ["region colour accuracy", float((pred // n_shapes == truth // n_shapes).mean()), 1 / len(colours)],
        ["region shape accuracy", float((pred % n_shapes == truth % n_shapes).mean()), 1 / n_shapes],
        ["crop baseline top-1", accuracy(crop_r, 1), 1 / len(classes)],
        ["crop baseline top-5", accuracy(crop_r, 5), min(5, len(classes)) / len(classes)],
    ]
    if len(single_truth):
        zs_r, zr_r = ranks(zs_cos, single_truth), ranks(zs_region, single_truth)
        metrics += [["image zero-shot top-1 (one-object scenes)", accuracy(zs_r, 1), 1 / len(classes)],
                    ["image zero-shot top-5 (one-object scenes)", accuracy(zs_r, 5), min(5, len(classes)) /
                     len(classes)],
                    ["region top-1 (one-object scenes, true box)", accuracy(zr_r, 1), 1 / len(classes)]]
    notes = (f"CLIP {clip.architecture} ({clip.source}); {len(truth)} boxes in {params.n_scenes} test scenes "
             f"({params.min_objects}-{params.max_objects} objects, data seed {params.data_seed}), {len(single_truth)} "
             f"one-object scenes; {len(classes)} colour x shape classes, template {template!r}; dense map at "
             f"{size or clip.image_size} px (shorter side); backend {ctx.backend}")
    if parity is not None:
        notes += f"\n{parity.describe()} (the crop baseline and image zero-shot use the torch image encoder)"
    if skipped:
        notes += f"\n{len(skipped)} objects skipped:\n" + "\n".join(f"- {s}" for s in skipped)
    yield MetricsTable(name="summary", title=f"Region classification: {clip.architecture}",
                       columns=["metric", "value", "chance"],
                       rows=[[m, round(v, 4), round(c, 4)] for m, v, c in metrics], notes=notes)
    rows = []
    for c in present:
        predicted = Counter(pred[truth == c].tolist()).most_common(1)[0][0]
        rows.append([classes[c], int(len(per_class[c])), accuracy(per_class[c], 1), accuracy(per_class[c], 5),
                     classes[predicted]])
    rows.sort(key=lambda row: (-row[2], row[0]))
    yield MetricsTable(name="per-class", title="Per-class region accuracy (best first)",
                       columns=["class", "boxes", "top-1", "top-5", "most frequent prediction"], rows=rows,
                       notes=notes)
    pairs = Counter(zip(truth.tolist(), pred.tolist()))
    counts = Counter(truth.tolist())
    confusion = [[classes[t], classes[p], n, n / counts[t]] for (t, p), n in pairs.items() if t != p]
    confusion.sort(key=lambda row: (-row[2], row[0], row[1]))
    yield MetricsTable(name="confusions", title="Confusions: true class -> predicted class (most frequent first)",
                       columns=["true", "predicted", "boxes", "share of the true class"], rows=confusion,
                       notes=f"{int((pred != truth).sum())} of {len(truth)} boxes misclassified; correct pairs "
                             "are in per-class")
    start = 0
    for k, scene in enumerate(list(world)[:params.n_examples]):
        n = len(boxes[k])
        labels = [classes[p] if p == t else f"{classes[p]} (true {classes[t]})"
                  for p, t in zip(pred[start:start + n], truth[start:start + n])]
        probs = torch.softmax(torch.from_numpy(cos[start:start + n]) * float(clip.model.logit_scale.detach().exp()),
                              dim=-1).max(dim=-1).values.numpy().astype(np.float64)
        yield Regions(name=f"example-{k}", title=f"test-{scene.index}: predicted class per true box", image=scene.image,
                      boxes=boxes[k], labels=labels, scores=probs)
        start += n
