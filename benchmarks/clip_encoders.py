"""CLIP encoder throughput: open_clip's own ``encode_*`` vs the service's paths vs ONNX Runtime.

Same model, same scenes and captions, measured side by side in one run; prints items/s and the ratio to
open_clip's stock call. The service's text path trims the padding after the longest EOT (same numbers,
less work for short captions). Usage: python benchmarks/clip_encoders.py [--model tiny-clip] [--n 512]
[--batch 128] [--weights FILE] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from wb_shapes.world import generate_scenes
from workbench.api import onnx_session
from workbench.clip import load_clip


def _rate(fn, n: int, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-clip")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clip = load_clip(args.model, weights=args.weights)
    scenes = generate_scenes(args.n, "test", 0, image_size=clip.image_size)
    pixels = clip.preprocess([s.image for s in scenes])
    tokens = clip.tokenize([s.caption for s in scenes])
    b = args.batch
    batches = range(0, args.n, b)
    with tempfile.TemporaryDirectory() as tmp:
        reports = clip.export_onnx(Path(tmp), check_batch_sizes=(1, 3))
        image_sess = onnx_session(Path(tmp) / "image_encoder.onnx")
        text_sess = onnx_session(Path(tmp) / "text_encoder.onnx")
        def each(fn):
            return lambda: [fn(i) for i in batches]

        def ort(session, output, name, data):
            return each(lambda i: session.run([output], {name: data[i:i + b].numpy()}))

        with torch.no_grad():
            rows = {
                "image: open_clip encode_image": _rate(each(lambda i: clip.model.encode_image(pixels[i:i + b])),
                                                       args.n),
                "image: onnxruntime": _rate(ort(image_sess, "image_embeds", "pixels", pixels), args.n),
                "text: open_clip encode_text": _rate(each(lambda i: clip.model.encode_text(tokens[i:i + b])),
                                                     args.n),
                "text: service encode_text (trimmed)": _rate(each(lambda i: clip.encode_text(tokens[i:i + b])),
                                                             args.n),
                "text: onnxruntime (full context)": _rate(ort(text_sess, "text_embeds", "tokens", tokens), args.n),
            }
    print(f"{clip.architecture} ({clip.source}), {args.n} items, batch {args.batch}, {args.threads} thread(s)")
    print(f"ONNX parity: image {reports['image'].worst:.2e}, text {reports['text'].worst:.2e}")
    base = {"image": rows["image: open_clip encode_image"], "text": rows["text: open_clip encode_text"]}
    for name, rate in rows.items():
        print(f"{name:40s} {rate:10.1f} items/s   x{rate / base[name.split(':')[0]]:.2f}")


if __name__ == "__main__":
    main()
