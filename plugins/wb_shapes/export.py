"""ONNX export of the zoo's tiny CLIP for ``workbench export-onnx tiny-clip --out DIR/tiny-clip.onnx``.

Two graphs: the image encoder at ``--out`` and the text encoder next to it (``<stem>-text.onnx``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from wb_shapes.zoo import ZOO_ID
from workbench.api import ExportReport, load_clip


def export_tiny_clip(weights: Path, out: Path) -> ExportReport:
    """Export both encoders; the returned report holds the largest |onnx - torch| of all four outputs."""
    clip = load_clip(ZOO_ID, weights=weights)
    out = Path(out)
    reports = clip.export_onnx(out.parent, names=(out.name, f"{out.stem}-text.onnx"))
    image, text = reports["image"], reports["text"]
    return replace(image, max_abs_diff={**image.max_abs_diff, **text.max_abs_diff})
