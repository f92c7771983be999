"""CAFA (Jung et al., ICCV 2023): class-aware feature alignment with source class-conditional statistics.

Source statistics (per-class mean and covariance of penultimate features, from a labelled source subset) are
computed once and saved as safetensors with the model's fingerprint, class count and feature size, so that they
are reused only with the model they describe. At test time the loss on pseudo-labels ``y = argmax f(x)`` is

    L = mean_i log[(D(x_i; mu_y, S_y) + eps) / (sum_{c in denominator} D(x_i; mu_c, S_c) + eps)]

with D the squared Mahalanobis distance. Details the paper's available text leaves uncertain are parameters:
``covariance`` (``class``: one covariance per class, the paper's notation; ``tied``: one pooled covariance, safer
with few samples per class), ``shrinkage`` (covariance -> (1-a) S + a tr(S)/d I before inversion),
``denominator`` (``others``: classes other than the pseudo-label; ``all``: every class).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.api import UserError, load_state_dict, save_safetensors

FORMAT = "wb-tta-cafa-source-stats/1"


class SourceStatsError(UserError):
    """Source statistics that do not belong to this model (fingerprint, class count or feature size differ)."""


@dataclass
class SourceStats:
    """Per-class means ``(C, d)``, inverse covariances ``(C, d, d)`` and counts ``(C,)`` of source features."""

    means: torch.Tensor
    precisions: torch.Tensor
    counts: torch.Tensor
    covariance: str
    shrinkage: float
    model_fingerprint: str
    path: Path | None = None

    @property
    def num_classes(self) -> int:
        return int(self.means.shape[0])

    @property
    def feature_dim(self) -> int:
        return int(self.means.shape[1])

    def to(self, device: torch.device | str) -> SourceStats:
        return SourceStats(self.means.to(device), self.precisions.to(device), self.counts.to(device),
                           self.covariance, self.shrinkage, self.model_fingerprint, self.path)

    def save(self, path: Path) -> Path:
        meta = {"format": FORMAT, "covariance": self.covariance, "shrinkage": repr(self.shrinkage),
                "model_fingerprint": self.model_fingerprint, "num_classes": str(self.num_classes),
                "feature_dim": str(self.feature_dim)}
        save_safetensors({"means": self.means, "precisions": self.precisions, "counts": self.counts}, path, meta)
        self.path = Path(path)
        return self.path


def model_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's weights and buffers (names, shapes, values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _shrunk_inverse(cov: torch.Tensor, shrinkage: float) -> torch.Tensor:
    d = cov.shape[-1]
    target = torch.eye(d, dtype=cov.dtype) * (torch.trace(cov) / d).clamp_min(1e-12)
    return torch.linalg.pinv((1.0 - shrinkage) * cov + shrinkage * target, hermitian=True)


def stats_from_features(features: torch.Tensor, labels: torch.Tensor, num_classes: int, covariance: str = "class",
                        shrinkage: float = 0.0, fingerprint: str = "") -> SourceStats:
    """Class means and shrunk inverse covariances from labelled features (float64 for the inversion)."""
    if covariance not in ("class", "tied"):
        raise ValueError(f"covariance must be 'class' or 'tied', got {covariance!r}")
    f = features.detach().double().cpu()
    labels = labels.cpu()
    counts = torch.bincount(labels, minlength=num_classes)
    missing = [c for c in range(num_classes) if counts[c] < 2]
    if missing:
        raise ValueError(f"source subset has fewer than 2 samples for class(es) {missing}; use more source data")
    means = torch.stack([f[labels == c].mean(0) for c in range(num_classes)])
    centred = f - means[labels]
    if covariance == "tied":
        prec = _shrunk_inverse(centred.T @ centred / (len(f) - num_classes), shrinkage)
        precisions = prec.expand(num_classes, -1, -1).clone()
    else:
        precisions = torch.stack([
            _shrunk_inverse(centred[labels == c].T @ centred[labels == c] / (counts[c] - 1), shrinkage)
            for c in range(num_classes)])
    return SourceStats(means.float(), precisions.float(), counts, covariance, float(shrinkage), fingerprint)


@torch.no_grad()
def compute_source_stats(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, num_classes: int,
                         covariance: str = "class", shrinkage: float = 0.0, batch_size: int = 256,
                         device: str = "cpu") -> SourceStats:
    """Run the frozen source model (eval mode) over labelled source images and summarise its features."""
    model = model.eval().to(device)
    feats = torch.cat([model.forward_features(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu()
                       for i in range(0, len(x), batch_size)])
    return stats_from_features(feats, torch.from_numpy(y).long(), num_classes, covariance, shrinkage,
                               model_fingerprint(model))


def load_source_stats(path: Path | str) -> SourceStats:
    """Load statistics saved by :meth:`SourceStats.save` (safe loading: tensors and string metadata only)."""
    from safetensors import safe_open

    path = Path(path)
    tensors = load_state_dict(path)
    if path.suffix != ".safetensors" or not {"means", "precisions", "counts"} <= set(tensors):
        raise SourceStatsError(f"{path}: not a CAFA source-statistics file (expected means, precisions, counts; "
                               "write one with the tta.source-stats task)")
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != FORMAT:
        raise SourceStatsError(f"{path}: not a CAFA source-statistics file (format {meta.get('format')!r})")
    return SourceStats(tensors["means"].float(), tensors["precisions"].float(), tensors["counts"].long(),
                       meta.get("covariance", "class"), float(meta.get("shrinkage", "nan")),
                       meta.get("model_fingerprint", ""), path)


def check_compatible(stats: SourceStats, model: torch.nn.Module, num_classes: int) -> None:
    """Refuse statistics computed for another class count, feature size or model."""
    where = str(stats.path) if stats.path else "source statistics"
    if stats.num_classes != num_classes:
        raise SourceStatsError(f"{where}: computed for {stats.num_classes} classes but the model has {num_classes}")
    dim = int(model.fc.in_features) if hasattr(model.fc, "in_features") else stats.feature_dim
    if stats.feature_dim != dim:
        raise SourceStatsError(f"{where}: feature size {stats.feature_dim} but the model's features have {dim}")
    own = model_fingerprint(model)
    if stats.model_fingerprint and stats.model_fingerprint != own:
        raise SourceStatsError(f"{where}: computed with a different model (fingerprint {stats.model_fingerprint}, "
                               f"this model {own}); recompute them with tta.source-stats for this model")


def mahalanobis(features: torch.Tensor, stats: SourceStats) -> torch.Tensor:
    """Squared Mahalanobis distances ``(n, C)`` of features to every class."""
    diff = features[:, None, :] - stats.means[None]
    return torch.einsum("ncd,cde,nce->nc", diff, stats.precisions, diff)


def cafa_loss(features: torch.Tensor, pseudo: torch.Tensor, stats: SourceStats, denominator: str = "others",
              eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The class-aware log-ratio loss, with per-sample intra distance and mean distance to the other classes."""
    dist = mahalanobis(features, stats)
    own = torch.nn.functional.one_hot(pseudo, dist.shape[1]).bool()
    intra = dist[own]
    others = dist.masked_fill(own, 0.0).sum(1)
    if denominator == "others":
        denom = others
    elif denominator == "all":
        denom = dist.sum(1)
    else:
        raise ValueError(f"denominator must be 'others' or 'all', got {denominator!r}")
    loss = (torch.log(intra + eps) - torch.log(denom + eps)).mean()
    return loss, intra.detach(), (others / max(dist.shape[1] - 1, 1)).detach()
