"""One inference engine: a torch module plus the run's backend give a callable on torch or on ONNX Runtime.

On the ONNX engine the module is exported once (dynamic batch axis, parity-checked against torch at export) into a
cache keyed by a hash of its weights, its input signature, the opset and the exporter, so a second run with the
same model reuses the file and its parity report instead of exporting again. Plugins never switch engines
themselves: they ask ``ctx.inference(...)`` and call what it returns. torch is imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core import assets
from workbench.core.atomic import atomic_write_text
from workbench.core.errors import UserError
from workbench.core.onnx_export import QUANTIZE_CHOICES, ExportReport, export_onnx, onnx_session, quantize_int8

log = logging.getLogger(__name__)
OPSET = 17


def providers_for(device: str) -> list[str]:
    """ONNX Runtime providers for a torch-style device string, CUDA first on a CUDA device."""
    if device.startswith("cuda"):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def weights_key(module, example_inputs: Sequence, input_names: Sequence[str], output_names: Sequence[str],
                opset: int, exporter: str) -> str:
    """A hash of what an export depends on: class, every weight, the input signature (batch axis aside)."""
    import torch

    h = hashlib.sha256()
    h.update(f"{type(module).__module__}.{type(module).__qualname__}|{opset}|{exporter}|".encode())
    h.update(f"{torch.__version__.split('+')[0]}|{list(input_names)}|{list(output_names)}|".encode())
    for t in example_inputs:
        h.update(f"{tuple(t.shape[1:])}:{t.dtype};".encode())
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(data.shape)}:{data.dtype};".encode())
        h.update(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return h.hexdigest()[:32]


@dataclass
class InferenceSession:
    """``session(*arrays) -> tuple of arrays`` on the chosen engine; ``export`` holds the ONNX parity report."""

    engine: str
    device: str
    output_names: tuple[str, ...]
    module: Any = None
    onnx: Any = None
    input_names: tuple[str, ...] = ()
    export: ExportReport | None = None
    cached: bool = False

    def __call__(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        if self.onnx is not None:
            feeds = {n: np.ascontiguousarray(a) for n, a in zip(self.input_names, arrays)}
            return tuple(self.onnx.run(list(self.output_names), feeds))
        import torch

        with torch.no_grad():
            out = self.module(*(torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in arrays))
        out = out if isinstance(out, (tuple, list)) else (out,)
        return tuple(o.detach().cpu().numpy() for o in out)

    def describe(self) -> str:
        if self.onnx is None:
            return f"torch on {self.device}"
        if self.export is None:
            return f"ONNX Runtime {self.onnx.get_providers()[0]} on a given file"
        how = "cached export" if self.cached else f"exported ({self.export.exporter})"
        return (f"ONNX Runtime {self.onnx.get_providers()[0]}, {how} {self.export.path.name}, "
                f"max |onnx - torch| {self.export.worst:.2e}")


def _load_cached(onnx_path: Path) -> ExportReport | None:
    meta = onnx_path.with_suffix(".json")
    if not (onnx_path.is_file() and meta.is_file()):
        return None
    try:
        doc = json.loads(meta.read_text())
        return ExportReport(path=onnx_path, exporter=doc["exporter"], opset=int(doc["opset"]),
                            max_abs_diff={k: float(v) for k, v in doc["max_abs_diff"].items()},
                            batch_sizes=tuple(doc["batch_sizes"]),
                            tolerance={k: float(v) for k, v in doc.get("tolerance", {}).items()},
                            threads=tuple(doc.get("threads", ())))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cached_export(module, example_inputs: tuple, input_names: Sequence[str], output_names: Sequence[str], *,
                  check_batch_sizes: tuple[int, ...] = (1, 3), tolerance: float | None = None, exporter: str = "dynamo",
                  cache: Path | None = None) -> tuple[ExportReport, bool]:
    """The ONNX export of ``module`` from the cache, or exported now (parity-checked) and cached.

    Returns the report and whether it came from the cache. A failed parity check raises and caches nothing.
    """
    module = module.eval()
    key = weights_key(module, example_inputs, input_names, output_names, OPSET, exporter)
    folder = cache or assets.cache_dir() / "onnx"
    path = folder / f"{key}.onnx"
    report = _load_cached(path)
    if report is not None:
        return report, True
    tmp = folder / f".{key}.partial.onnx"
    report = export_onnx(module, example_inputs, tmp, input_names=tuple(input_names),
                         output_names=tuple(output_names), opset=OPSET, check_batch_sizes=check_batch_sizes,
                         tolerance=tolerance, exporter=exporter)
    tmp.replace(path)
    report.path = path
    doc = {k: v for k, v in asdict(report).items() if k != "path"}
    atomic_write_text(path.with_suffix(".json"), json.dumps(doc, indent=1))
    return report, False


def inference_session(module, example_inputs: tuple, *, engine: str, device: str,
                      input_names: Sequence[str] = ("input",), output_names: Sequence[str] = ("output",),
                      check_batch_sizes: tuple[int, ...] = (1, 3), tolerance: float | None = None,
                      onnx_file: Path | None = None, log_fn: Callable[[str], None] | None = None,
                      exporter: str = "dynamo", quantize: str | None = None) -> InferenceSession:
    """``module`` on ``engine`` (``torch`` or ``onnx``) and ``device``; ``onnx_file`` uses a given export instead;
    ``exporter`` is ``dynamo`` or ``torchscript`` (the legacy exporter: several times faster to export).

    ``quantize="int8"`` (ONNX only) runs ONNX Runtime's dynamic int8 quantisation of the export, cached beside it;
    the session's ``export`` still reports the float32 parity, the int8 model's is the caller's to state.
    """
    if quantize is not None and (quantize not in QUANTIZE_CHOICES or engine != "onnx"):
        raise UserError(f"quantize={quantize!r}: only {', '.join(QUANTIZE_CHOICES)} on the onnx engine")
    if engine != "onnx":
        return InferenceSession("torch", device, tuple(output_names), module=module.eval().to(device),
                                input_names=tuple(input_names))
    if onnx_file is not None:
        if not Path(onnx_file).is_file():
            raise UserError(f"onnx_file {onnx_file}: no such ONNX file")
        report, cached = None, True
        path = Path(onnx_file)
    else:
        home = next((p.device for p in module.parameters()), None)
        report, cached = cached_export(module.cpu(), example_inputs, input_names, output_names,
                                       check_batch_sizes=check_batch_sizes, tolerance=tolerance, exporter=exporter)
        if home is not None:
            module.to(home)
        path = report.path
    if quantize == "int8":
        path = quantize_int8(path)
    session = InferenceSession("onnx", device, tuple(output_names), onnx=onnx_session(path, providers_for(device)),
                               input_names=tuple(input_names), export=report, cached=cached)
    if log_fn is not None:
        log_fn(f"inference: {session.describe()} ({path})")
    return session
