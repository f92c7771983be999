"""GPU check: the CUDA torch path and the ONNX Runtime CUDA provider path, parity against CPU, a timing ratio.

Runs `ood.posthoc` on torch-cpu, torch-cuda and onnx-cuda (whichever exist) through the real runner, compares
every detector score with the CPU run, and times classifier inference on both CUDA paths side by side.
Without a GPU it says so and exits 0. Usage: python benchmarks/gpu_check.py [--images 8192]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.core.devices import onnx_cuda_usable, torch_cuda_devices
from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunStore


def scores_of(backend: str, device: str) -> dict:
    job, record = Runner().run(RunRequest(task="ood.posthoc", backend=backend, device=device,
                                          params={"detectors": ["msp", "energy", "mahalanobis", "knn"]}))
    if record.state.value != "completed":
        raise SystemExit(f"{backend}/{device} failed: {record.error}\n{record.traceback}")
    return next(r for r in RunStore.results(job.run_dir) if r.name == "scores").scores


def max_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[d][s] - b[d][s]))) for d in a for s in a[d])


def time_inference(engine: str, images: np.ndarray, batch: int) -> float:
    import torch

    from workbench.api import ClassifierOutputs, load_zoo_model
    from workbench.core.context import RunContext

    with tempfile.TemporaryDirectory() as tmp:
        ctx = RunContext(run_dir=Path(tmp), seed=0, engine=engine, device="cuda", logger=logging.getLogger("gpu"))
        pipe = ClassifierOutputs(load_zoo_model("digits-cnn"), ctx, images, batch_size=batch)
        pipe.outputs(images[:batch])
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        pipe.outputs(images)
        torch.cuda.synchronize()
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    torch_cuda, ort_cuda = torch_cuda_devices(), onnx_cuda_usable()
    report = {"torch_cuda_devices": list(torch_cuda), "onnx_cuda_usable": ort_cuda}
    if not torch_cuda and not ort_cuda:
        print(json.dumps({**report, "status": "skipped: no CUDA device on this machine"}))
        return 0
    cpu = scores_of("torch", "cpu")
    if torch_cuda:
        report["torch_cuda_vs_cpu_max_score_diff"] = max_diff(scores_of("torch", "cuda"), cpu)
    if ort_cuda:
        report["onnx_cuda_vs_cpu_max_score_diff"] = max_diff(scores_of("onnx", "cuda"), cpu)
    if torch_cuda and ort_cuda:
        images = np.random.default_rng(0).random((args.images, 1, 32, 32), dtype=np.float32)
        t_torch = time_inference("torch", images, args.batch)
        t_onnx = time_inference("onnx", images, args.batch)
        report.update(torch_cuda_images_per_s=args.images / t_torch, onnx_cuda_images_per_s=args.images / t_onnx,
                      onnx_over_torch_speedup=t_torch / t_onnx)
    report["status"] = "ok"
    print(json.dumps(report, indent=1))
    worst = max(v for k, v in report.items() if k.endswith("max_score_diff"))
    return 0 if worst < 1e-2 else 1


if __name__ == "__main__":
    sys.exit(main())
