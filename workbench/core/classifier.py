"""The classifier contract shared by the OOD, adaptation and any third-party plugin: a torch module with
``forward_features(x) -> features`` and a linear head ``fc``, giving ``(logits, features)`` on torch or on its
exported ONNX model through the one inference engine.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.core.context import RunContext
from workbench.core.inference import InferenceSession


class FeaturesAndLogits(nn.Module):
    """Wraps a classifier with ``forward_features`` and ``fc`` to return ``(logits, features)``: what is exported."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.model.forward_features(x)
        return self.model.fc(feats), feats


def check_classifier(model: nn.Module, what: str = "model") -> nn.Module:
    """``model`` if it follows the contract, else a clear error naming what is missing."""
    missing = [attr for attr in ("forward_features", "fc") if not hasattr(model, attr)]
    if missing:
        raise ValueError(f"{what}: a classifier needs `forward_features` and `fc` (missing: {', '.join(missing)})")
    return model


class ClassifierOutputs:
    """``outputs(images) -> (logits, features)`` on the run's engine, in batches; ``session.export`` holds the
    ONNX parity report (None on torch). ``model`` stays a torch module on the run's device for gradient methods."""

    def __init__(self, model: nn.Module, ctx: RunContext, example: np.ndarray, batch_size: int = 256,
                 onnx_file=None, engine: str | None = None) -> None:
        self.model = check_classifier(model).eval().to(ctx.device)
        self.device = ctx.device
        self.batch_size = batch_size
        self.session: InferenceSession = ctx.inference(
            FeaturesAndLogits(self.model), (torch.from_numpy(np.ascontiguousarray(example[:2], np.float32)),),
            engine=engine, input_names=("images",), output_names=("logits", "features"), check_batch_sizes=(1, 5),
            onnx_file=onnx_file)

    @property
    def export(self):
        return self.session.export

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, feats = [], []
        for i in range(0, len(images), self.batch_size):
            lo, fe = self.session(np.ascontiguousarray(images[i:i + self.batch_size], dtype=np.float32))
            logits.append(lo)
            feats.append(fe)
        return np.concatenate(logits), np.concatenate(feats)
