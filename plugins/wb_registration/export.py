"""ONNX export of the VBReg network through the host's exporter (dynamic match axis, parity-checked)."""

from __future__ import annotations

from pathlib import Path

import torch

from wb_registration.vbreg_net import INPUTS, OUTPUTS, ROLES, SinglePairVBReg, VBRegNet
from workbench.api import ExportReport, export_onnx


def export_vbreg(net: VBRegNet, path: Path, n_example: int = 64) -> ExportReport:
    """Export the single-pair network; the host's "batch" axis is the number of matches here."""
    single = SinglePairVBReg(net.cpu().eval()).eval()
    gen = torch.Generator().manual_seed(0)
    example = (torch.randn(n_example, 6, generator=gen) * 0.5,
               torch.randn(n_example, net.layers_n * ROLES * net.latent, generator=gen))
    return export_onnx(single, example, Path(path), input_names=INPUTS, output_names=OUTPUTS,
                       check_batch_sizes=(50, 300))


def export_zoo(weights: Path, out: Path) -> ExportReport:
    """The model card's exporter (``workbench export-onnx vbreg``): load ``weights`` and export to ``out``."""
    from wb_registration.zoo import load_model

    return export_vbreg(load_model(weights), Path(out))
