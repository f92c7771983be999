"""The online methods, one object per run: ``process(x)`` takes a batch, returns its probabilities and extras.

``none`` and ``lame`` only need ``(logits, features)`` from a frozen source (torch or ONNX Runtime).
``bn-stats`` normalises with test-batch statistics without learning (what TENT/CAFA start from); ``tent`` and
``cafa`` update the normalisation affine parameters of a private copy of the torch model. TENT/CAFA predict
with the outputs of the forward pass that precedes each update (TENT's online protocol).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn

from wb_tta.cafa import SourceStats, cafa_loss, check_compatible
from wb_tta.lame import lame
from wb_tta.norm_params import configure_for_adaptation

METHODS = ("none", "bn-stats", "tent", "lame", "cafa")


@dataclass
class BatchOutput:
    """Probabilities used for the batch's predictions, and method-specific numbers for the results."""

    probs: np.ndarray
    extras: dict[str, object] = field(default_factory=dict)


class FeatureSource(Protocol):
    """A frozen classifier on torch or ONNX Runtime: the host's ``ClassifierOutputs``."""

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(logits, features)`` of a frozen model."""


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NoAdaptation:
    def __init__(self, source: FeatureSource) -> None:
        self.source = source

    def process(self, x: np.ndarray) -> BatchOutput:
        logits, _ = self.source.outputs(x)
        return BatchOutput(softmax(logits))


class Lame:
    """LAME over a frozen source; extras: energy per iteration and the predictions before correction."""

    def __init__(self, source: FeatureSource, affinity: str = "knn", knn: int = 5, lam: float = 1.0,
                 max_iter: int = 100, force_symmetry: bool = False, stop: str = "reference",
                 symmetrise_how: str = "average") -> None:
        self.source = source
        self.kw = {"kind": affinity, "knn": knn, "lam": lam, "max_iter": max_iter, "force_symmetry": force_symmetry,
                   "stop": stop, "symmetrise_how": symmetrise_how}

    def process(self, x: np.ndarray) -> BatchOutput:
        logits, feats = self.source.outputs(x)
        probs = softmax(logits)
        out = lame(probs, feats, **self.kw)
        return BatchOutput(out.probs, {"energy": out.energy, "before": probs.argmax(1), "fallback": out.fallback,
                                       "iterations": out.iterations})


class _NormAdapter:
    """Shared by TENT and CAFA: a private model copy whose normalisation affine parameters are optimised."""

    name = "TENT/CAFA"

    def __init__(self, model: nn.Module, lr: float = 1e-3, optimizer: str = "adam", steps: int = 1,
                 bn_statistics: str = "batch", device: str = "cpu") -> None:
        self.model = copy.deepcopy(model).to(device)
        self.device = device
        self.params = configure_for_adaptation(self.model, bn_statistics, self.name)
        self.initial = [p.detach().clone() for p in self.params]
        if optimizer == "adam":
            self.opt: torch.optim.Optimizer = torch.optim.Adam(self.params, lr=lr, betas=(0.9, 0.999))
        elif optimizer == "sgd":
            self.opt = torch.optim.SGD(self.params, lr=lr, momentum=0.9)
        else:
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        self.steps = steps

    def loss(self, logits: torch.Tensor, feats: torch.Tensor) -> tuple[torch.Tensor, dict[str, object]]:
        """The adaptation objective, defined by TENT and CAFA; BatchNormStats overrides ``process`` instead."""
        raise NotImplementedError(f"{type(self).__name__} does not adapt by a loss")

    def param_shift(self) -> float:
        """Relative L2 change of the adapted parameters since the start."""
        num = sum(float((p.detach() - q).pow(2).sum()) for p, q in zip(self.params, self.initial))
        den = sum(float(q.pow(2).sum()) for q in self.initial)
        return float(np.sqrt(num / max(den, 1e-12)))

    def process(self, x: np.ndarray) -> BatchOutput:
        xb = torch.from_numpy(x).to(self.device)
        probs, extras = None, {}
        for _ in range(self.steps):
            feats = self.model.forward_features(xb)
            logits = self.model.fc(feats)
            loss, info = self.loss(logits, feats)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            if probs is None:
                probs = torch.softmax(logits.detach(), 1).cpu().numpy()
                extras = {"loss": float(loss.detach()), **info}
        extras["param_shift"] = self.param_shift()
        return BatchOutput(probs, extras)


class BatchNormStats(_NormAdapter):
    """Reference for TENT/CAFA: BatchNorm normalises with each test batch's statistics, no parameter update."""

    name = "bn-stats"

    def __init__(self, model: nn.Module, device: str = "cpu", **_) -> None:
        super().__init__(model, bn_statistics="batch", device=device)

    @torch.no_grad()
    def process(self, x: np.ndarray) -> BatchOutput:
        logits = self.model(torch.from_numpy(x).to(self.device))
        return BatchOutput(torch.softmax(logits, 1).cpu().numpy())


class Tent(_NormAdapter):
    """Entropy minimisation (Wang et al., ICLR 2021) on the normalisation affine parameters."""

    name = "TENT"

    def loss(self, logits: torch.Tensor, feats: torch.Tensor) -> tuple[torch.Tensor, dict[str, object]]:
        logp = torch.log_softmax(logits, 1)
        return -(logp.exp() * logp).sum(1).mean(), {}


class Cafa(_NormAdapter):
    """Class-aware feature alignment: the Mahalanobis log-ratio loss on pseudo-labels (see ``wb_tta.cafa``)."""

    name = "CAFA"

    def __init__(self, model: nn.Module, stats: SourceStats, denominator: str = "others", eps: float = 1e-6,
                 **kwargs) -> None:
        check_compatible(stats, model, int(model.fc.out_features))
        super().__init__(model, **kwargs)
        self.stats, self.denominator, self.eps = stats.to(self.device), denominator, eps

    def loss(self, logits: torch.Tensor, feats: torch.Tensor) -> tuple[torch.Tensor, dict[str, object]]:
        pseudo = logits.detach().argmax(1)
        loss, intra, inter = cafa_loss(feats, pseudo, self.stats, self.denominator, self.eps)
        return loss, {"intra": float(intra.mean()), "inter": float(inter.mean())}
