"""ONNX export of the zoo's CLIM-tuned tiny CLIP for ``workbench export-onnx clim-tiny-clip --out DIR/x.onnx``:
its dense image encoder (value-path map at the model's 64 px input, dynamic batch), what region scoring runs."""

from __future__ import annotations

from pathlib import Path

from wb_clim.plugin import ZOO_ID
from workbench.api import ExportReport, load_clip


def export_dense_encoder(weights: Path, out: Path) -> ExportReport:
    """The dense encoder of ``weights`` (the card's architecture) at ``out``; the report holds |onnx - torch|."""
    return load_clip(ZOO_ID, weights=weights).export_dense_onnx(out)
