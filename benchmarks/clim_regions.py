"""CLIM costs: region scoring throughput on torch vs ONNX Runtime, and a CLIM step vs a plain CLIP fine-tuning step.

Region scoring: dense map of each image (torch, or the exported dense encoder on ONNX Runtime), RoIAlign of its
boxes (torch in both), cosines with the 70 colour x shape class embeddings; boxes/s at 1, 16 and 256 boxes per
image. Training: one optimizer step on the same model, trainable set and batch of captioned scenes, with CLIM's
loss (mosaics' region embeddings + singles) vs the plain CLIP loss (every scene's global embedding). All measured
side by side in one run, best of ``--repeats``. Usage: python benchmarks/clim_regions.py [--quick]
[--model tiny-clip] [--images 32] [--batch 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from wb_clim.loss import clim_loss, contrastive_loss, unlock_last_blocks
from wb_clim.scoring import class_embeddings
from wb_clim.vocabulary import attribute_vocabulary, prompts
from workbench.api import load_clip, load_sample, onnx_session


def _best(fn, repeats: int) -> float:
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _random_boxes(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    xy = rng.uniform(0, size * 0.75, (n, 2))
    wh = rng.uniform(size * 0.1, size * 0.25, (n, 2))
    return np.concatenate([xy, np.minimum(xy + wh, size)], 1)


def region_rates(clip, images, text, per_image: int, repeats: int, session) -> tuple[float, float, float]:
    """``(torch boxes/s, onnx boxes/s, max |cosine difference|)`` for ``per_image`` boxes on every image."""
    rng = np.random.default_rng(per_image)
    size = images[0].shape[0]
    boxes = [_random_boxes(rng, per_image, size) for _ in images]
    pixels = clip.dense_pixels(images)

    def score(dense):
        return torch.cat(clip.region_features(dense, boxes, (size, size))) @ text.T

    with torch.no_grad():
        def on_torch():
            return score(clip.dense_features(images))

        def on_onnx():
            return score(torch.from_numpy(session.run(["dense"], {"pixels": pixels.numpy()})[0]))

        diff = float((on_torch() - on_onnx()).abs().max())
        n = len(images) * per_image
        return n / _best(on_torch, repeats), n / _best(on_onnx, repeats), diff


def step_times(clip, scenes, repeats: int, blocks: int) -> tuple[float, float]:
    """Seconds of one CLIM step and of one plain CLIP step (same trainable set, optimizer and batch)."""
    images, captions = [s.image for s in scenes], [s.caption for s in scenes]
    unlock_last_blocks(clip, blocks)
    params = [p for p in clip.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-6)
    clip.model.train()

    def step(loss_fn):
        def run():
            loss = loss_fn()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return run

    def plain():
        with torch.no_grad():
            text = clip.encode_text(captions)
        return contrastive_loss(clip.encode_image(images), text, clip.model.logit_scale.exp())

    clim = _best(step(lambda: clim_loss(clip, images, captions)), repeats)
    base = _best(step(plain), repeats)
    clip.model.eval()
    return clim, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-clip")
    parser.add_argument("--images", type=int, default=32, help="images scored per measurement")
    parser.add_argument("--batch", type=int, default=32, help="captioned scenes per training step (CLIM: 32)")
    parser.add_argument("--blocks", type=int, default=3, help="last vision blocks trained in both steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="8 images, 2 repeats (under a minute)")
    args = parser.parse_args()
    if args.quick:
        args.images, args.repeats = 8, 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clip = load_clip(args.model)
    world = load_sample("shapes", split="test", n=args.images, seed=0, image_size=clip.image_size)
    images = [s.image for s in world]
    classes = attribute_vocabulary(world.vocabulary)
    text = class_embeddings(clip, prompts(classes, "a {}"))
    with tempfile.TemporaryDirectory() as tmp:
        report = clip.export_dense_onnx(Path(tmp) / "dense.onnx")
        session = onnx_session(report.path, threads=args.threads)
        rates = {k: region_rates(clip, images, text, k, args.repeats, session) for k in (1, 16, 256)}
    train = load_sample("shapes", split="train", n=args.batch, seed=0, image_size=clip.image_size, max_objects=1)
    clim, plain = step_times(clip, list(train), args.repeats, args.blocks)
    print(f"{clip.architecture} ({clip.source}), {args.images} images of {clip.image_size} px, {len(classes)} "
          f"classes, {args.threads} thread(s), best of {args.repeats}")
    print(f"dense encoder ONNX export ({report.exporter}, opset {report.opset}): max |onnx - torch| "
          f"{report.worst:.2e}")
    print(f"{'boxes/image':>12s} {'torch boxes/s':>14s} {'onnx boxes/s':>13s} {'onnx/torch':>11s} "
          f"{'max |cos diff|':>15s}")
    for k, (t, o, diff) in rates.items():
        print(f"{k:12d} {t:14.0f} {o:13.0f} {o / t:10.2f}x {diff:15.2e}")
    print(f"training step, batch {args.batch}, last {args.blocks} blocks: CLIM {clim * 1000:.0f} ms, plain CLIP "
          f"{plain * 1000:.0f} ms, CLIM / plain = {clim / plain:.2f}x")


if __name__ == "__main__":
    main()
