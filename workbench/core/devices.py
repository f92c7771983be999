"""Devices and backends discovered at run time: torch CUDA/CPU and ONNX Runtime CUDA/CPU.

Asking for CUDA where there is none is an error, never a silent fallback; ``auto`` picks CUDA when
present and the CPU otherwise. A host that must not import torch (the GUI) answers the device questions
itself through ``set_probe`` (e.g. from a subprocess).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.errors import DeviceError

if TYPE_CHECKING:
    from workbench.core.specs import TaskSpec


@dataclass(frozen=True)
class DeviceAnswer:
    """What a device probe reports: torch's CUDA device names and whether ONNX Runtime can open a CUDA session."""

    torch_cuda: tuple[str, ...]
    onnx_cuda: bool


DeviceProbe = Callable[[], DeviceAnswer]
_PROBES: list[DeviceProbe] = []


def set_probe(probe: DeviceProbe | None) -> None:
    """Answer ``torch_cuda_devices``/``onnx_cuda_usable`` with ``probe`` instead of importing torch and ONNX
    Runtime here; probes stack (``None`` removes the last one set), so nested users restore each other's."""
    if probe is None:
        if _PROBES:
            _PROBES.pop()
    else:
        _PROBES.append(probe)


def torch_cuda_devices() -> tuple[str, ...]:
    """Names of torch's CUDA devices (empty without torch or CUDA)."""
    return tuple(_PROBES[-1]().torch_cuda) if _PROBES else _local_torch_cuda_devices()


def onnx_cuda_usable() -> bool:
    """True when ONNX Runtime can really open a session on CUDA (not merely lists the provider)."""
    return bool(_PROBES[-1]().onnx_cuda) if _PROBES else _local_onnx_cuda_usable()


@functools.lru_cache(maxsize=1)
def _local_torch_cuda_devices() -> tuple[str, ...]:
    try:
        import torch
    except ImportError:
        return ()
    if not torch.cuda.is_available():
        return ()
    return tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


@functools.lru_cache(maxsize=1)
def _local_onnx_cuda_usable() -> bool:
    import ctypes.util

    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return False
    if "CUDAExecutionProvider" not in ort.get_available_providers() or not ctypes.util.find_library("cuda"):
        return False
    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        session = ort.InferenceSession(
            model.SerializeToString(), sess_options=opts, providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
        )
    except Exception:
        return False
    return "CUDAExecutionProvider" in session.get_providers()


@dataclass(frozen=True)
class Placement:
    """Where a run executes: ``engine`` (torch/onnx) and a torch-style ``device`` string."""

    engine: str
    device: str

    @property
    def backend(self) -> str:
        if self.engine == "cpu":
            return "cpu"
        return f"{self.engine}-{'cuda' if self.device.startswith('cuda') else 'cpu'}"


def cuda_available(engine: str) -> bool:
    if engine == "cpu":
        return False
    return bool(torch_cuda_devices()) if engine == "torch" else onnx_cuda_usable()


def resolve(spec: TaskSpec, backend: str = "auto", device: str = "auto") -> Placement:
    """Choose engine and device for ``spec``. ``backend`` is auto/torch/onnx/cpu or a full name like onnx-cpu.

    ``cpu`` is the backend of tasks that need neither torch nor ONNX Runtime (numpy, Open3D).
    """
    if backend == "cpu":
        if "cpu" not in spec.backends:
            raise DeviceError(f"task {spec.id!r} does not declare the plain cpu backend (it supports: "
                              f"{', '.join(spec.backends)})")
        if device not in ("auto", "cpu"):
            raise DeviceError(f"--backend cpu contradicts --device {device}")
        return Placement(engine="cpu", device="cpu")
    if backend in ("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"):
        engine, _, dev = backend.partition("-")
        if device not in ("auto", dev) and not device.startswith(dev):
            raise DeviceError(f"--backend {backend} contradicts --device {device}")
        device = dev if device == "auto" else device
    elif backend in ("auto", "torch", "onnx"):
        engine = spec.engines[0] if backend == "auto" else backend
    else:
        raise DeviceError(f"unknown backend {backend!r}; use auto, torch, onnx, cpu or one of torch-cuda, "
                          "torch-cpu, onnx-cuda, onnx-cpu")
    if engine == "cpu":
        if device not in ("auto", "cpu"):
            raise DeviceError(f"task {spec.id!r} runs on the plain cpu backend only; drop --device {device}")
        return Placement(engine="cpu", device="cpu")
    if engine not in spec.engines:
        raise DeviceError(
            f"task {spec.id!r} does not run on {engine} (it supports: {', '.join(spec.backends)})"
            + (" - it needs gradients, so it runs on torch only" if engine == "onnx" else "")
        )
    if device == "auto":
        want_cuda = f"{engine}-cuda" in spec.backends and cuda_available(engine)
        device = "cuda" if want_cuda else "cpu"
    if device.startswith("cuda"):
        if not cuda_available(engine):
            raise DeviceError(
                f"CUDA was requested for {engine} but no usable CUDA device was found; "
                "use --device cpu or --device auto"
            )
        if f"{engine}-cuda" not in spec.backends:
            raise DeviceError(f"task {spec.id!r} does not support {engine}-cuda")
    elif device != "cpu":
        raise DeviceError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    elif f"{engine}-cpu" not in spec.backends:
        raise DeviceError(f"task {spec.id!r} does not support {engine}-cpu (it supports: {', '.join(spec.backends)})")
    return Placement(engine=engine, device=device)


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def package_versions() -> dict[str, str]:
    """Versions recorded in every run.json (read from metadata, no imports)."""
    names = ["alignment-workbench", "torch", "torchvision", "numpy", "onnxruntime", "onnxruntime-gpu", "onnx",
             "open-clip-torch", "diffusers", "open3d", "scikit-learn", "PySide6-Essentials", "pydantic"]
    return {n: v for n in names if (v := _version(n))}


def describe() -> dict[str, object]:
    """Everything ``workbench info`` prints: platform, versions, torch and ONNX Runtime devices."""
    import platform

    from workbench import __version__
    from workbench.core.build_info import build_info
    from workbench.core.plugin_folders import app_plugins_folder, plugin_folders

    app_folder = app_plugins_folder()
    info: dict[str, object] = {
        "workbench": __version__,
        "build": build_info(),
        "plugin_folders": [str(p) for p in plugin_folders()]
        + ([f"{app_folder} (absent)"] if app_folder is not None and not app_folder.is_dir() else []),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }
    try:
        import torch

        info["torch"] = {
            "version": torch.__version__,
            "cuda_build": torch.version.cuda,
            "cuda_devices": list(torch_cuda_devices()),
            "threads": torch.get_num_threads(),
        }
    except ImportError as exc:
        info["torch"] = {"error": str(exc)}
    try:
        import onnxruntime as ort

        info["onnxruntime"] = {
            "version": ort.__version__,
            "providers_built": ort.get_available_providers(),
            "cuda_usable": onnx_cuda_usable(),
        }
    except ImportError as exc:
        info["onnxruntime"] = {"error": str(exc)}
    return info
