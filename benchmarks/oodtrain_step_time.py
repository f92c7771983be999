"""Training step time of MixOE, PALM and ASCOOD relative to plain cross-entropy (same backbone, batch, data).

    python benchmarks/oodtrain_step_time.py [--backbone digits-cnn|resnet18] [--batch 64] [--steps 20]
                                            [--device cpu|cuda] [--threads 1]

The papers put ASCOOD at ~2-2.5x CE (attribution pass + doubled batch) and MixOE at ~2x (doubled batch).
PALM's step is two augmented views, so ~2x as well. A step = forward, loss, backward and optimiser update.
"""

from __future__ import annotations

import argparse
import time

import torch

from wb_oodtrain.ascood import ASCOODMethod
from wb_oodtrain.ce import CEMethod
from wb_oodtrain.data import synthetic_outliers
from wb_oodtrain.mixoe import MixOEMethod
from wb_oodtrain.network import build_network
from wb_oodtrain.palm import PALMMethod
from wb_oodtrain.params import ASCOODParams, MixOEParams, PALMParams
from wb_oodtrain.trainer import augment, build_optimizer, step_generator


def time_method(method, arch: dict, x: torch.Tensor, y: torch.Tensor, steps: int, warmup: int, lr: float) -> float:
    torch.manual_seed(0)
    net = build_network({**arch, **method.head}).to(x.device).train()
    opt = build_optimizer(method.param_groups(net), MixOEParams(lr=lr))
    timings = []
    for step in range(warmup + steps):
        gen = step_generator(0, step)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss, _ = method.loss(net, net, augment(x, gen), y, gen, 0, 10)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            timings.append(time.perf_counter() - t0)
    timings.sort()
    return timings[len(timings) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="digits-cnn", choices=["digits-cnn", "resnet18", "resnet34",
                                                                      "resnet50"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--width", type=int, default=16, help="digits-cnn width")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    channels, classes = (1, 6) if args.backbone == "digits-cnn" else (3, 10)
    arch = {"backbone": args.backbone, "width": args.width, "stem": "cifar", "in_channels": channels,
            "num_classes": classes, "mean": [0.0] * channels, "std": [1.0] * channels}
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(args.batch, channels, args.size, args.size, generator=gen).to(args.device)
    y = torch.randint(0, classes, (args.batch,), generator=gen).to(args.device)
    outliers = torch.from_numpy(synthetic_outliers(256, args.size, 1)).repeat(1, channels, 1, 1).to(args.device)
    methods = {
        "ce": CEMethod(),
        "mixoe (mixup)": MixOEMethod(MixOEParams(), outliers, classes),
        "mixoe (mixup, 1 pass)": MixOEMethod(MixOEParams(forward_passes="one"), outliers, classes),
        "mixoe (cutmix)": MixOEMethod(MixOEParams(mix_op="cutmix", alpha=2.0), outliers, classes),
        "palm": PALMMethod(PALMParams(), classes, augment),
        "palm (pre-update)": PALMMethod(PALMParams(palm_assignment="pre-update"), classes, augment),
        "ascood (gradient)": ASCOODMethod(ASCOODParams(), classes),
        "ascood (shuffle)": ASCOODMethod(ASCOODParams(ood_type="shuffle"), classes),
    }
    times = {name: time_method(m, arch, x, y, args.steps, args.warmup, 1e-3) for name, m in methods.items()}
    print(f"backbone {args.backbone}, batch {args.batch}, {args.size}x{args.size}, device {args.device}, "
          f"{args.threads} thread(s); median of {args.steps} steps")
    print(f"{'method':<22} {'ms/step':>9} {'x CE':>6}")
    for name, t in times.items():
        print(f"{name:<22} {1000 * t:>9.1f} {t / times['ce']:>6.2f}")


if __name__ == "__main__":
    main()
