"""Scoring throughput: a bare torch loop vs the workbench's inference path (torch) vs ONNX Runtime.

Same model, same inputs, same batch size, measured side by side in one run; prints images/s and ratios.
Usage: python benchmarks/ood_throughput.py [--model digits-cnn|resnet18] [--batch 256] [--images 4096]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.api import ClassifierOutputs, load_zoo_model
from workbench.core.context import RunContext


class ResNetClassifier(nn.Module):
    """torchvision ResNet-18 with a CIFAR 3x3 stem, exposing forward_features/fc like the digits CNN."""

    def __init__(self, num_classes: int = 6) -> None:
        super().__init__()
        import torchvision

        net = torchvision.models.resnet18(num_classes=num_classes)
        net.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
        self.fc = net.fc
        net.fc = nn.Identity()
        self.body = net
        self.in_channels = 1

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


def bare_loop(model: nn.Module, images: np.ndarray, batch: int) -> None:
    with torch.no_grad():
        for i in range(0, len(images), batch):
            f = model.forward_features(torch.from_numpy(images[i:i + batch]))
            model.fc(f).numpy()
            f.numpy()


def interleaved_best(paths: dict, repeats: int) -> dict[str, float]:
    """Best wall time of each path; paths run in turn every round so drift and warm-up hit all alike."""
    for fn in paths.values():
        fn()
    best = {name: float("inf") for name in paths}
    for _ in range(repeats):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("digits-cnn", "resnet18"), default="digits-cnn")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads = int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    model = load_zoo_model("digits-cnn").eval() if args.model == "digits-cnn" else ResNetClassifier().eval()
    images = np.random.default_rng(0).random((args.images, 1, 32, 32), dtype=np.float32)
    log = logging.getLogger("bench")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = {e: RunContext(run_dir=Path(tmp) / e, seed=0, engine=e, device="cpu", logger=log)
               for e in ("torch", "onnx")}
        pipe_torch = ClassifierOutputs(model, ctx["torch"], images, batch_size=args.batch)
        pipe_onnx = ClassifierOutputs(model, ctx["onnx"], images, batch_size=args.batch)
        best = interleaved_best({"bare": lambda: bare_loop(model, images, args.batch),
                                 "torch": lambda: pipe_torch.outputs(images),
                                 "onnx": lambda: pipe_onnx.outputs(images)}, args.repeats)
        t_bare, t_pipe, t_onnx = best["bare"], best["torch"], best["onnx"]
        diff = np.abs(pipe_torch.outputs(images[:512])[0] - pipe_onnx.outputs(images[:512])[0]).max()
    n = args.images
    print(f"model {args.model}, {n} images 1x32x32, batch {args.batch}, {threads} torch threads, CPU")
    print(f"{'path':<34} {'images/s':>10} {'time vs bare torch':>19}")
    for label, t in (("bare torch loop", t_bare), ("workbench pipeline (torch)", t_pipe),
                     ("workbench pipeline (ONNX Runtime)", t_onnx)):
        print(f"{label:<34} {n / t:10.0f} {t / t_bare:19.3f}")
    print(f"pipeline overhead vs bare loop: {100 * (t_pipe / t_bare - 1):+.1f}%")
    print(f"ONNX Runtime speed-up over torch pipeline: {t_pipe / t_onnx:.2f}x; max |logit diff| {diff:.2e}")


if __name__ == "__main__":
    main()
