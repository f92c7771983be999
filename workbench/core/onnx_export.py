"""ONNX export with a dynamic batch axis and a parity check against torch; ONNX Runtime sessions.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class ExportError(RuntimeError):
    """Export failed, or the exported model disagrees with torch beyond the tolerance."""


@dataclass
class ExportReport:
    """Where the model went, which exporter wrote it, and the largest |onnx - torch| per output."""

    path: Path
    exporter: str
    opset: int
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    batch_sizes: tuple[int, ...] = ()

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values(), default=0.0)


def _torch_export(model, example: tuple, path: Path, input_names, output_names, opset: int, exporter: str) -> None:
    import torch

    if exporter == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=4096)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, example, dynamic_shapes=tuple({0: batch} for _ in example),
                                        input_names=list(input_names), output_names=list(output_names),
                                        dynamo=True, verbose=False, opset_version=max(opset, 18))
        program.save(str(path), external_data=False)
    else:
        axes = {n: {0: "batch"} for n in (*input_names, *output_names)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, example, str(path), input_names=list(input_names),
                              output_names=list(output_names), dynamic_axes=axes, opset_version=opset,
                              dynamo=False)


def onnx_session(path: Path | str, providers: list[str] | None = None):
    """An ONNX Runtime session; ``providers`` defaults to CPU. Quiet unless something is wrong."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers or ["CPUExecutionProvider"])


def export_onnx(
    model,
    example_inputs: tuple,
    path: Path,
    input_names: tuple[str, ...] = ("input",),
    output_names: tuple[str, ...] = ("output",),
    opset: int = 17,
    check_batch_sizes: tuple[int, ...] = (1, 3),
    tolerance: float = 1e-4,
    exporter: str = "dynamo",
) -> ExportReport:
    """Export ``model`` (eval mode) with a dynamic batch axis and check it against torch at several batch sizes.

    The dynamo exporter is tried first; if it fails the TorchScript exporter is used and the report says so.
    Raises :class:`ExportError` when the largest difference exceeds ``tolerance``.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    used = exporter
    try:
        _torch_export(model, example_inputs, path, input_names, output_names, opset, exporter)
    except Exception as exc:
        if exporter != "dynamo":
            raise ExportError(f"ONNX export failed: {exc}") from exc
        log.warning("dynamo ONNX export failed (%s); using the TorchScript exporter", exc)
        used = "torchscript"
        try:
            _torch_export(model, example_inputs, path, input_names, output_names, opset, used)
        except Exception as exc2:
            raise ExportError(f"ONNX export failed with both exporters: {exc2}") from exc2
    session = onnx_session(path)
    report = ExportReport(path=path, exporter=used, opset=opset, batch_sizes=tuple(check_batch_sizes))
    generator = torch.Generator().manual_seed(0)
    for batch in check_batch_sizes:
        inputs = tuple(_resize_batch(t, batch, generator) for t in example_inputs)
        with torch.no_grad():
            expected = model(*inputs)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        got = session.run(list(output_names), {n: t.numpy() for n, t in zip(input_names, inputs)})
        for name, e, g in zip(output_names, expected, got):
            diff = float(np.max(np.abs(e.detach().cpu().numpy() - g))) if g.size else 0.0
            report.max_abs_diff[name] = max(report.max_abs_diff.get(name, 0.0), diff)
    if report.worst > tolerance:
        raise ExportError(f"ONNX parity check failed: max |onnx - torch| = {report.worst:.3g} > {tolerance:g} "
                          f"(per output: {report.max_abs_diff})")
    return report


def _resize_batch(tensor: Any, batch: int, generator) -> Any:
    """A batch of ``batch`` inputs like ``tensor``: rows repeated, floats perturbed so rows differ."""
    import torch

    reps = (batch + tensor.shape[0] - 1) // tensor.shape[0]
    out = tensor.repeat(reps, *([1] * (tensor.dim() - 1)))[:batch].clone()
    if out.is_floating_point():
        out += 0.01 * torch.randn(out.shape, generator=generator, dtype=out.dtype)
    return out
