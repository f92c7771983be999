"""Sampling time with the UNet on ONNX Runtime vs in torch (CPU), the same prompts, seeds and sampler, measured
side by side in one process, alternating so that machine load hits both alike; prints the ratio and the largest
pixel difference between the two image sets.

    python benchmarks/diffusion_sampling.py [--model tiny-shapes-sd] [--images 8] [--steps 25] [--threads 1]

The UNet export comes from the inference cache (exported and parity-checked on first use).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-shapes-sd")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from wb_diffusion.onnx_unet import use_onnx_unet
    from wb_diffusion.pipelines import load_pipeline
    from wb_diffusion.sampling import Sample, generate
    from workbench.core.context import RunContext

    prompts = ["a small red circle", "a large blue square", "a small green triangle", "a large yellow star"]
    samples = [Sample(prompts[i % len(prompts)], i, args.steps, 5.0, "ddim") for i in range(args.images)]
    on_torch = load_pipeline(args.model)
    on_onnx = load_pipeline(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = RunContext(run_dir=Path(tmp), seed=0, engine="onnx", device="cpu", logger=logging.getLogger("bench"))
        print("UNet:", use_onnx_unet(on_onnx, ctx))
    generate(on_torch, samples[:1])
    generate(on_onnx, samples[:1])
    times = {"torch": 0.0, "onnx": 0.0}
    images = {"torch": [], "onnx": []}
    for sample in samples:
        for name, pipe in (("torch", on_torch), ("onnx", on_onnx)):
            t0 = time.perf_counter()
            images[name] += generate(pipe, [sample])
            times[name] += time.perf_counter() - t0
    diff = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(images["torch"], images["onnx"]))
    per = {k: v / len(samples) for k, v in times.items()}
    print(f"{args.model}: {len(samples)} images x {args.steps} DDIM steps, guidance 5, {args.threads} thread(s)")
    print(f"torch {per['torch']:.3f} s/image | onnx UNet {per['onnx']:.3f} s/image | "
          f"onnx/torch time ratio {per['onnx'] / per['torch']:.2f} | max pixel diff {diff}/255")


if __name__ == "__main__":
    main()
