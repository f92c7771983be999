"""Attribution cost of CLIP4DM + image relevance as a ratio to a plain forward pass (CPU or CUDA).

    python benchmarks/clipmap_cost.py --model ViT-B-32 --weights random --device cpu --repeats 5

Plain forward: ``encode_image`` + ``encode_text`` of one pair under ``no_grad`` (stock open_clip, text run over
the whole 77-token context; the second baseline trims the padding after EOT as the attribution does). The
attributed pass is ``explain`` (patched attention, one forward with the graph, one backward to the text and
vision attention), with and without the image map; per-word maps add one batched pass for all words.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import interleaved_medians

from wb_clipmap.attribution import explain, word_image_maps
from workbench.api import load_clip

CAPTION = "A photo depicts a small red circle above a large blue square and a green star"
WORDS = ("red", "square", "star")


def measure(quick: bool = False, model: str = "ViT-B-32", weights: str | None = "random", device: str = "cpu",
            repeats: int | None = None, threads: int = 1) -> dict[str, float]:
    """Median seconds of each path (interleaved) and the attribution paths' ratios to the plain forward."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    clip = load_clip(model, weights=weights or None, device=device)
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

    def forward_backward():  # to the input only, as the attribution needs no weight gradients
        with torch.enable_grad():
            px = pixels.clone().requires_grad_(True)
            similarity = torch.cosine_similarity(clip.model.encode_image(px), clip.encode_text(tokens)).sum()
            torch.autograd.grad(similarity, px)

    paths = {
        "plain forward (no_grad)": plain,
        "plain forward, text trimmed": plain_trimmed,
        "forward + backward (floor)": forward_backward,
        "attribution, text only": lambda: explain(clip, pixels, CAPTION, image_map=False),
        "attribution + image map": lambda: explain(clip, pixels, CAPTION),
        f"per-word maps ({len(WORDS)} words)": lambda: word_image_maps(clip, pixels,
                                                                        ["A photo depicts " + w for w in WORDS]),
    }
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    t = interleaved_medians(paths, repeats or (5 if quick else 9), sync=sync)
    base = t["plain forward (no_grad)"]
    return {**{f"{k} s": v for k, v in t.items()},
            "attribution + map / forward": t["attribution + image map"] / base,
            "per-word maps / forward": t[f"per-word maps ({len(WORDS)} words)"] / base,
            "forward + backward / forward": t["forward + backward (floor)"] / base,
            "label": f"{model} ({clip.source}) on {device}, {threads} thread(s)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    m = measure(model=args.model, weights=args.weights, device=args.device, repeats=args.repeats,
                threads=args.threads)
    timings = {k[:-2]: v for k, v in m.items() if k.endswith(" s")}
    base, trimmed = timings["plain forward (no_grad)"], timings["plain forward, text trimmed"]
    print(f"{m['label']}, interleaved medians of {args.repeats}")
    for name, seconds in timings.items():
        print(f"  {name:32s} {seconds * 1000:8.1f} ms   x{seconds / base:5.2f}   "
              f"x{seconds / trimmed:5.2f} (vs trimmed)")


if __name__ == "__main__":
    main()
