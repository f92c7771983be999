"""Scoring throughput: a bare torch loop vs the workbench's inference path (torch) vs ONNX Runtime.

Same model, same inputs, same batch size, measured side by side in one run (interleaved medians); prints
images/s and ratios.
Usage: python benchmarks/ood_throughput.py [--model digits-cnn|resnet18] [--batch 256] [--images 4096]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from timing import interleaved_medians
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


def measure(quick: bool = False, model_name: str = "digits-cnn", batch: int = 256, n_images: int | None = None,
            repeats: int | None = None) -> dict[str, float]:
    """Median seconds of the bare loop and both pipelines over the same images, interleaved, and their ratios."""
    n_images = n_images or (1024 if quick else 4096)
    repeats = repeats or (5 if quick else 11)
    model = load_zoo_model("digits-cnn").eval() if model_name == "digits-cnn" else ResNetClassifier().eval()
    images = np.random.default_rng(0).random((n_images, 1, 32, 32), dtype=np.float32)
    log = logging.getLogger("bench")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = {e: RunContext(run_dir=Path(tmp) / e, seed=0, engine=e, device="cpu", logger=log)
               for e in ("torch", "onnx")}
        pipe_torch = ClassifierOutputs(model, ctx["torch"], images, batch_size=batch)
        pipe_onnx = ClassifierOutputs(model, ctx["onnx"], images, batch_size=batch)
        t = interleaved_medians({"bare": lambda: bare_loop(model, images, batch),
                                 "torch": lambda: pipe_torch.outputs(images),
                                 "onnx": lambda: pipe_onnx.outputs(images)}, repeats)
        diff = np.abs(pipe_torch.outputs(images[:512])[0] - pipe_onnx.outputs(images[:512])[0]).max()
    return {"images": n_images, "bare s": t["bare"], "pipeline torch s": t["torch"], "pipeline onnx s": t["onnx"],
            "pipeline / bare": t["torch"] / t["bare"], "onnx / bare": t["onnx"] / t["bare"],
            "max logit diff": float(diff)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("digits-cnn", "resnet18"), default="digits-cnn")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    threads = int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    m = measure(model_name=args.model, batch=args.batch, n_images=args.images, repeats=args.repeats)
    t_bare, t_pipe, t_onnx = m["bare s"], m["pipeline torch s"], m["pipeline onnx s"]
    n = args.images
    print(f"model {args.model}, {n} images 1x32x32, batch {args.batch}, {threads} torch threads, CPU")
    print(f"{'path':<34} {'images/s':>10} {'time vs bare torch':>19}")
    for label, t in (("bare torch loop", t_bare), ("workbench pipeline (torch)", t_pipe),
                     ("workbench pipeline (ONNX Runtime)", t_onnx)):
        print(f"{label:<34} {n / t:10.0f} {t / t_bare:19.3f}")
    print(f"pipeline overhead vs bare loop: {100 * (t_pipe / t_bare - 1):+.1f}%")
    print(f"ONNX Runtime speed-up over torch pipeline: {t_pipe / t_onnx:.2f}x; "
          f"max |logit diff| {m['max logit diff']:.2e}")


if __name__ == "__main__":
    main()
