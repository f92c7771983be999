"""ONNX export of a digits classifier as ``images -> (logits, features)`` (used by ``workbench export-onnx``)."""

from __future__ import annotations

from pathlib import Path

import torch

from wb_digits.zoo import load_model
from workbench.api import ExportReport, FeaturesAndLogits, export_onnx


def export_classifier(weights: Path, out: Path) -> ExportReport:
    model = load_model(weights)
    example = torch.rand(2, model.in_channels, 32, 32)
    return export_onnx(FeaturesAndLogits(model), (example,), out, input_names=("images",),
                       output_names=("logits", "features"))
