"""ONNX export of a trained checkpoint as ``images -> (logits, features)`` (used by ``workbench export-onnx``)."""

from __future__ import annotations

from pathlib import Path

import torch

from wb_oodtrain.checkpoints import load_model
from workbench.api import ExportReport, FeaturesAndLogits, export_onnx


def export_classifier(weights: Path, out: Path) -> ExportReport:
    loaded = load_model(str(weights))
    example = torch.rand(2, int(loaded.arch["in_channels"]), 32, 32)
    return export_onnx(FeaturesAndLogits(loaded.net), (example,), out, input_names=("images",),
                       output_names=("logits", "features"))
