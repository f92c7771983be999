"""Logits and penultimate features of a classifier on torch or on its exported ONNX model.

One object serves both engines so every detector sees identical inputs; the ONNX path exports
``FeaturesAndLogits`` once per run (parity checked) and runs it with the run's providers.
"""

from __future__ import annotations

import numpy as np
import torch

from wb_digits.model import FeaturesAndLogits
from workbench.api import ExportReport, RunContext, export_onnx, onnx_session


class ClassifierOutputs:
    """``outputs(images) -> (logits, features)`` on ``ctx.engine``; ``export`` holds the ONNX parity report."""

    def __init__(self, model: torch.nn.Module, ctx: RunContext, example: np.ndarray, batch_size: int = 256) -> None:
        self.model = model.eval().to(ctx.device)
        self.device = ctx.device
        self.batch_size = batch_size
        self.export: ExportReport | None = None
        self.session = None
        if ctx.engine == "onnx":
            wrapper = FeaturesAndLogits(model.cpu().eval())
            self.export = export_onnx(wrapper, (torch.from_numpy(example[:2]),), ctx.artifacts / "classifier.onnx",
                                      input_names=("images",), output_names=("logits", "features"))
            self.model.to(ctx.device)
            self.session = onnx_session(self.export.path, ctx.onnx_providers())
            ctx.log(f"ONNX export {self.export.path} ({self.export.exporter}); max |onnx - torch| "
                    f"{self.export.worst:.2e}; providers {self.session.get_providers()}")

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, feats = [], []
        for i in range(0, len(images), self.batch_size):
            batch = np.ascontiguousarray(images[i:i + self.batch_size], dtype=np.float32)
            if self.session is not None:
                lo, fe = self.session.run(["logits", "features"], {"images": batch})
            else:
                with torch.no_grad():
                    x = torch.from_numpy(batch).to(self.device)
                    f = self.model.forward_features(x)
                    lo, fe = self.model.fc(f).cpu().numpy(), f.cpu().numpy()
            logits.append(lo)
            feats.append(fe)
        return np.concatenate(logits), np.concatenate(feats)
