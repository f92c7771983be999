"""GPU check for every family: each family's public task on torch-CPU, torch-CUDA and ONNX Runtime (CPU and CUDA
providers, where the task has an ONNX backend), through the real runner, with time ratios to the torch-CPU row
and parity against it.

    python benchmarks/gpu_check.py [--families ood,tta,clip4dm,vbreg,diffusion,clim] [--repeats 2]

Families: OOD scoring (``ood.posthoc``), a TTA stream (``tta.adapt``, LAME), CLIP4DM (``clip.misalignment``),
VBReg (``registration.register``), a diffusion sampling run (``diffusion.sample``, few DDIM steps) and CLIM region
scoring (``clim.region-score``), each at a size that runs in seconds. Each backend runs ``--repeats`` times and
the last run's duration counts (the first pays imports and CUDA start-up). Parity: the largest (relative) difference
between every number the task's results hold and the torch-CPU run's, against the family's tolerance.
Prints one JSON document; exits 1 when a parity check fails. Without CUDA it runs the CPU rows (torch and ONNX
Runtime) and says CUDA is absent (status ``skipped: ...``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from workbench.core.devices import onnx_cuda_usable, torch_cuda_devices
from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunStore


@dataclasses.dataclass(frozen=True)
class Family:
    """One family's check: its task, small parameters, whether it has an ONNX backend, its parity tolerance."""

    task: str
    params: dict
    onnx: bool
    tolerance: float


FAMILIES = {
    "ood": Family("ood.posthoc", {"detectors": ["msp", "energy", "mahalanobis", "knn"]}, True, 1e-2),
    "tta": Family("tta.adapt", {"method": "lame", "passes": 1}, True, 1e-2),
    "clip4dm": Family("clip.misalignment", {"demo_scenes": 2}, False, 1e-2),
    "vbreg": Family("registration.register", {"method": "vbreg", "outlier_ratio": 0.99, "n_points": 5000}, True,
                    1e-2),
    "diffusion": Family("diffusion.sample", {"prompts": ["a small red circle"], "seeds": [0], "steps": 4}, True,
                        8.0),
    "clim": Family("clim.region-score", {}, False, 1e-2),
}


def _is_timing(label: str) -> bool:
    return "time" in label or label.endswith(("_s", " s", " ms")) or "ms per" in label or "per second" in label


def numbers(value, prefix: str = "") -> dict[str, np.ndarray]:
    """Every numeric array or number inside a result (dataclass fields, dicts, lists), keyed by its path; table rows
    labelled as timings are left out."""
    if dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if isinstance(fields.get("columns"), list) and isinstance(fields.get("rows"), list):
            timed = [i for i, c in enumerate(fields["columns"]) if _is_timing(str(c))]
            fields["rows"] = [[x for i, x in enumerate(r) if i not in timed] for r in fields["rows"]]
        value = fields
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{prefix}/{key}").items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        return {prefix: value.astype(np.float64)}
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple)):
        return {}
    if isinstance(value, (int, float)):
        return {prefix: np.asarray(float(value))}
    if value and isinstance(value[0], str) and _is_timing(value[0]):
        return {}  # a table row of timings: machine-dependent, not a result
    return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{prefix}/{i}").items()}


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[float, str]:
    """The largest difference over the numbers both hold (same path, same shape), relative to the reference's
    magnitude where that exceeds 1 (Mahalanobis scores run in the hundreds), and where it is."""
    diffs = {k: float(np.max(np.abs(a[k] - b[k])) / max(1.0, float(np.max(np.abs(b[k])))))
             for k in a if k in b and a[k].shape == b[k].shape and a[k].size}
    worst = max(diffs, key=diffs.get, default="")
    return diffs.get(worst, float("nan")), worst


def run_row(runner: Runner, family: Family, backend: str, device: str, repeats: int) -> tuple[float, dict]:
    """The last of ``repeats`` runs: its duration and the numbers of its results."""
    for _ in range(repeats):
        job, record = runner.run(RunRequest(task=family.task, backend=backend, device=device, params=family.params,
                                            execution="inproc"))
        if record.state.value != "completed":
            raise RuntimeError(f"{family.task} on {backend}/{device} {record.state.value}: {record.error}")
    found: dict[str, np.ndarray] = {}
    for result in RunStore.results(job.run_dir):
        found.update(numbers(result, result.name))
    return record.duration_s, found


def check(names: list[str], repeats: int, torch_cuda: bool, ort_cuda: bool) -> tuple[dict, bool]:
    report: dict = {}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(store=RunStore(Path(tmp)))
        for name in names:
            family = FAMILIES[name]
            row: dict = {"task": family.task}
            cpu_s, cpu = run_row(runner, family, "torch", "cpu", repeats)
            row["cpu_s"] = cpu_s
            paths = [("onnx_cpu", "onnx", "cpu", family.onnx), ("torch_cuda", "torch", "cuda", torch_cuda),
                     ("onnx_cuda", "onnx", "cuda", ort_cuda and family.onnx)]
            for label, backend, device, present in paths:
                if not present:
                    continue
                seconds, got = run_row(runner, family, backend, device, repeats)
                diff, where = max_diff(got, cpu)
                row.update({f"{label}_s": seconds, f"{label}_speedup_vs_cpu": cpu_s / seconds,
                            f"{label}_max_diff_vs_cpu": diff, f"{label}_max_diff_at": where,
                            f"{label}_parity_ok": bool(diff <= family.tolerance)})
                ok = ok and bool(diff <= family.tolerance)
            if "torch_cuda_s" in row and "onnx_cuda_s" in row:
                row["onnx_cuda_over_torch_cuda_speedup"] = row["torch_cuda_s"] / row["onnx_cuda_s"]
            report[name] = row
            print(f"[gpu_check] {name}: {row}", file=sys.stderr, flush=True)
    return report, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated: {', '.join(FAMILIES)}")
    parser.add_argument("--repeats", type=int, default=2, help="runs per backend; the last one is timed")
    args = parser.parse_args()
    names = [n.strip() for n in args.families.split(",") if n.strip()]
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        parser.error(f"--families: unknown {unknown}; known: {list(FAMILIES)}")
    torch_cuda, ort_cuda = list(torch_cuda_devices()), onnx_cuda_usable()
    report, ok = check(names, args.repeats, bool(torch_cuda), ort_cuda)
    status = "ok" if torch_cuda or ort_cuda else "skipped: no CUDA device on this machine (CPU rows only)"
    print(json.dumps({"torch_cuda_devices": torch_cuda, "onnx_cuda_usable": ort_cuda, "status": status,
                      "families": report}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
