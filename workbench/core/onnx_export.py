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

from workbench.core.errors import UserError

log = logging.getLogger(__name__)


class ExportError(RuntimeError):
    """Export failed, or the exported model disagrees with torch beyond the tolerance."""


FLOAT32_EPS = float(np.finfo(np.float32).eps)
#: Safety factor of the error model: rounding errors of independent sums grow like sqrt(n); graph rewrites (fused
#: convolution + batch norm, reordered reductions) and another thread count re-round every sum, so a few such
#: errors can align.
SAFETY = 16.0
PARITY_THREADS = (1, 2)


def accumulation_depth(model) -> float:
    """Sum over the model's layers of sqrt(fan-in): the length of the float32 dot products an output goes through.

    Convolutions count ``in_channels / groups * kernel size``, linear layers ``in_features``, attention its
    ``embed_dim`` twice (scores, then the weighted sum); other layers (norms, activations) add 1 each.
    """
    import torch

    depth = 0.0
    for module in model.modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            depth += (module.in_channels / module.groups * float(np.prod(module.kernel_size))) ** 0.5
        elif isinstance(module, torch.nn.Linear):
            depth += module.in_features ** 0.5
        elif isinstance(module, torch.nn.MultiheadAttention):
            depth += 2 * module.embed_dim ** 0.5
        elif not list(module.children()):
            depth += 1.0
    return max(depth, 1.0)


def parity_tolerance(model, reference_scale: float) -> float:
    """The largest |onnx - torch| float32 arithmetic explains for an output of magnitude ``reference_scale``:
    ``SAFETY * eps32 * accumulation_depth * max(scale, 1)``."""
    return SAFETY * FLOAT32_EPS * accumulation_depth(model) * max(float(reference_scale), 1.0)


@dataclass
class ExportReport:
    """Where the model went, which exporter wrote it, the largest |onnx - torch| per output (over the batch
    sizes and ONNX Runtime thread counts checked) and the tolerance the error model allowed per output."""

    path: Path
    exporter: str
    opset: int
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    batch_sizes: tuple[int, ...] = ()
    tolerance: dict[str, float] = field(default_factory=dict)
    threads: tuple[int, ...] = ()

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values(), default=0.0)

    @property
    def relative_tolerance(self) -> float:
        """The error model's relative bound (tolerance per unit of output scale), for derived quantities."""
        return max(self.tolerance.values(), default=0.0)


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


def onnx_session(path: Path | str, providers: list[str] | None = None, threads: int = 0):
    """An ONNX Runtime session; ``providers`` defaults to CPU; ``threads`` > 0 fixes the intra-op thread count."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:
        detail = str(exc).split(" failed:", 1)[-1].strip() or type(exc).__name__
        raise UserError(f"{path}: not a readable ONNX model ({detail})") from None


QUANTIZE_CHOICES = ("int8",)
#: Dynamic quantisation pays on matrix products; ONNX Runtime's ConvInteger is slower than its float Conv on CPU
#: (x11 the time on the digits CNN), so convolutions stay float32.
QUANTIZED_OPS = ("MatMul", "Gemm", "Attention")


def quantize_int8(path: Path | str, out: Path | str | None = None) -> Path:
    """ONNX Runtime dynamic quantisation of ``path``: int8 weights of the matrix products (:data:`QUANTIZED_OPS`),
    activations quantised per batch at run time.

    Writes ``out`` (default ``<stem>.int8.onnx`` beside the input) and returns it; an existing, newer file is
    reused. Parity is no longer float32's: callers state theirs as a task-level tolerance (top-1 agreement,
    AUROC change).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = Path(path)
    out = Path(out) if out is not None else path.with_name(f"{path.stem}.int8.onnx")
    if not path.is_file():
        raise UserError(f"{path}: no such ONNX file to quantise")
    if out.is_file() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    partial = out.with_name(f".{out.stem}.partial.onnx")
    try:
        graph = onnx.load(str(path))
        del graph.graph.value_info[:]  # the exporter's recorded shapes can disagree with re-inference; redo them
        quantize_dynamic(graph, str(partial), weight_type=QuantType.QInt8,
                         op_types_to_quantize=list(QUANTIZED_OPS))
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"{path}: int8 dynamic quantisation failed ({type(exc).__name__}: {exc})") from exc
    partial.replace(out)
    return out


def export_onnx(
    model,
    example_inputs: tuple,
    path: Path,
    input_names: tuple[str, ...] = ("input",),
    output_names: tuple[str, ...] = ("output",),
    opset: int = 17,
    check_batch_sizes: tuple[int, ...] = (1, 3),
    tolerance: float | None = None,
    exporter: str = "dynamo",
) -> ExportReport:
    """Export ``model`` (eval mode) with a dynamic batch axis and check it against torch at several batch sizes
    and ONNX Runtime thread counts (``PARITY_THREADS``).

    The dynamo exporter is tried first; if it fails the TorchScript exporter is used and the report says so.
    The allowed difference per output is ``tolerance`` when given, else the float32 error model of
    :func:`parity_tolerance` at that output's magnitude. Raises :class:`ExportError` when an output exceeds it.
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
    sessions = {n: onnx_session(path, threads=n) for n in PARITY_THREADS}
    report = ExportReport(path=path, exporter=used, opset=opset, batch_sizes=tuple(check_batch_sizes),
                          threads=PARITY_THREADS)
    generator = torch.Generator().manual_seed(0)
    scale: dict[str, float] = {}
    for batch in check_batch_sizes:
        inputs = tuple(_resize_batch(t, batch, generator) for t in example_inputs)
        with torch.no_grad():
            expected = model(*inputs)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        feeds = {n: t.numpy() for n, t in zip(input_names, inputs)}
        for session in sessions.values():
            got = session.run(list(output_names), feeds)
            for name, e, g in zip(output_names, expected, got):
                e = e.detach().cpu().numpy()
                diff = float(np.max(np.abs(e - g))) if g.size else 0.0
                report.max_abs_diff[name] = max(report.max_abs_diff.get(name, 0.0), diff)
                scale[name] = max(scale.get(name, 0.0), float(np.max(np.abs(e))) if e.size else 0.0)
    for name in output_names:
        report.tolerance[name] = tolerance if tolerance is not None else parity_tolerance(model, scale[name])
    over = {n: (report.max_abs_diff[n], report.tolerance[n]) for n in output_names
            if report.max_abs_diff[n] > report.tolerance[n]}
    if over:
        raise ExportError("ONNX parity check failed: " + "; ".join(
            f"{n}: max |onnx - torch| = {d:.3g} > {t:.3g}" for n, (d, t) in over.items()))
    return report


def _resize_batch(tensor: Any, batch: int, generator) -> Any:
    """A batch of ``batch`` inputs like ``tensor``: rows repeated, floats perturbed so rows differ."""
    import torch

    reps = (batch + tensor.shape[0] - 1) // tensor.shape[0]
    out = tensor.repeat(reps, *([1] * (tensor.dim() - 1)))[:batch].clone()
    if out.is_floating_point():
        out += 0.01 * torch.randn(out.shape, generator=generator, dtype=out.dtype)
    return out
