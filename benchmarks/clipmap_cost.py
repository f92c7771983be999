"""Attribution cost of CLIP4DM + image relevance as a ratio to a plain forward pass (CPU or CUDA).

    python benchmarks/clipmap_cost.py --model ViT-B-32 --weights random --device cpu --repeats 5

Plain forward: ``encode_image`` + ``encode_text`` of one pair under ``no_grad`` (stock open_clip, text run over
the whole 77-token context; the second baseline trims the padding after EOT as the attribution does). The
attributed pass is ``explain`` (patched attention, one forward with the graph, one backward to the text and
vision attention), with and without the image map; per-word maps add one batched pass for all words.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from wb_clipmap.attribution import explain, word_image_maps
from workbench.api import load_clip

CAPTION = "A photo depicts a small red circle above a large blue square and a green star"


def _best(fn, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clip = load_clip(args.model, weights=args.weights or None, device=args.device)
    image = (np.random.default_rng(0).random((clip.image_size, clip.image_size, 3)) * 255).astype(np.uint8)
    pixels = clip.preprocess(image)
    tokens = clip.tokenize(CAPTION)

    def plain():
        with torch.no_grad():
            clip.model.encode_image(pixels)
            clip.model.encode_text(tokens)

    def plain_trimmed():
        with torch.no_grad():
            clip.model.encode_image(pixels)
            clip.encode_text(tokens)

    words = ["red", "square", "star"]
    timings = {
        "plain forward (no_grad)": _best(plain, args.repeats, args.device),
        "plain forward, text trimmed": _best(plain_trimmed, args.repeats, args.device),
        "attribution, text only": _best(lambda: explain(clip, pixels, CAPTION, image_map=False), args.repeats,
                                        args.device),
        "attribution + image map": _best(lambda: explain(clip, pixels, CAPTION), args.repeats, args.device),
        f"per-word maps ({len(words)} words)": _best(
            lambda: word_image_maps(clip, pixels, ["A photo depicts " + w for w in words]), args.repeats,
            args.device),
    }
    base = timings["plain forward (no_grad)"]
    print(f"{args.model} ({clip.source}) on {args.device}, {args.threads} thread(s), median of {args.repeats}")
    for name, seconds in timings.items():
        print(f"  {name:32s} {seconds * 1000:8.1f} ms   x{seconds / base:5.2f}   "
              f"x{seconds / timings['plain forward, text trimmed']:5.2f} (vs trimmed)")


if __name__ == "__main__":
    main()
