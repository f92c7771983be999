"""Dense maps on the run's engine: torch, or ONNX Runtime on the CLIP's exported dense encoder.

On ONNX the host exports the dense encoder once per token grid (dynamic batch, parity-checked against torch,
cached); RoIAlign pooling and scoring stay in torch after the ONNX map. :meth:`DenseMaps.parity` runs one batch on
both engines and says how far the maps differ and whether every box keeps its top-1 class, for the run's record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.api import RunContext


@dataclass
class Parity:
    """ONNX vs torch on one batch: largest |dense difference|, boxes compared and how many top-1 labels agree,
    and the export's own parity report (random inputs, several batch sizes)."""

    max_abs_diff: float
    boxes: int
    same_top1: int
    export_diff: float | None

    def describe(self) -> str:
        export = f"; export check {self.export_diff:.2e}" if self.export_diff is not None else ""
        return (f"ONNX parity with torch: max |dense onnx - torch| {self.max_abs_diff:.2e} on the first batch, "
                f"top-1 labels identical for {self.same_top1} of {self.boxes} boxes{export}")


class DenseMaps:
    """``maps(images) -> [B, D, h, w]`` normalised dense maps on the run's engine at ``size`` (shorter side)."""

    def __init__(self, clip, ctx: RunContext | None = None, size: int | None = None) -> None:
        self.clip, self.size = clip, size
        self.ctx = ctx
        self.onnx = ctx is not None and ctx.engine == "onnx"
        self.sessions: dict[tuple[int, int], object] = {}

    def session(self, pixel_size: tuple[int, int]):
        if pixel_size not in self.sessions:
            self.sessions[pixel_size] = self.clip.dense_session(self.ctx.inference, pixel_size)
        return self.sessions[pixel_size]

    def __call__(self, images) -> torch.Tensor:
        if not self.onnx:
            return self.clip.dense_features(images, size=self.size)
        pixels = self.clip.dense_pixels(images, self.size)
        out = self.session(tuple(pixels.shape[2:]))(pixels.cpu().numpy().astype(np.float32))[0]
        return torch.from_numpy(out).to(pixels.device)

    def parity(self, images, boxes, image_size, text: torch.Tensor) -> Parity | None:
        """ONNX vs torch on ``images`` with their ``boxes`` (one array per image) against class embeddings
        ``text``; None on the torch engine."""
        if not self.onnx:
            return None
        with torch.no_grad():
            ours = self(images)
            ref = self.clip.dense_features(images, size=self.size)
            top = [torch.cat(self.clip.region_features(d, list(boxes), image_size)) @ text.T for d in (ours, ref)]
        session = self.session(tuple(self.clip.dense_pixels(images[:1], self.size).shape[2:]))
        export = session.export.worst if session.export is not None else None
        labels = [t.argmax(1) for t in top]
        return Parity(max_abs_diff=float((ours - ref).abs().max()), boxes=len(labels[0]),
                      same_top1=int((labels[0] == labels[1]).sum()), export_diff=export)
