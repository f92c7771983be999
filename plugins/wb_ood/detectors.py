"""Post-hoc detectors. Each returns a confidence per sample: higher means more in-distribution.

Logit-based detectors (MSP, max-logit, Energy) and feature-based ones (Mahalanobis, KNN) work on arrays, so they
run unchanged on torch or ONNX Runtime outputs; ODIN needs input gradients and runs on torch only.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax


def msp(logits: np.ndarray) -> np.ndarray:
    return softmax(logits, axis=1).max(axis=1)


def max_logit(logits: np.ndarray) -> np.ndarray:
    return logits.max(axis=1)


def energy(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Negative free energy ``T * logsumexp(logits / T)`` (Liu et al. 2020)."""
    return temperature * logsumexp(logits / temperature, axis=1)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class Mahalanobis:
    """Class-conditional Gaussians with a tied covariance (Lee et al. 2018, OpenOOD ``mds``)."""

    def fit(self, features: np.ndarray, labels: np.ndarray) -> Mahalanobis:
        classes = np.unique(labels)
        self.means = np.stack([features[labels == c].mean(0) for c in classes])
        centred = features - self.means[np.searchsorted(classes, labels)]
        cov = centred.T @ centred / len(features)
        self.precision = np.linalg.pinv(cov, hermitian=True)
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        diff = features[:, None, :] - self.means[None]
        dist = np.einsum("ncd,de,nce->nc", diff, self.precision, diff)
        return -dist.min(axis=1)


class KNN:
    """Negative distance to the k-th nearest normalised training feature (Sun et al. 2022)."""

    def __init__(self, k: int = 50) -> None:
        self.k = k

    def fit(self, features: np.ndarray) -> KNN:
        self.bank = l2_normalise(features.astype(np.float32))
        if self.k > len(self.bank):
            raise ValueError(f"knn_k={self.k} exceeds the {len(self.bank)} training features")
        return self

    def score(self, features: np.ndarray, chunk: int = 1024) -> np.ndarray:
        q = l2_normalise(features.astype(np.float32))
        out = np.empty(len(q), np.float32)
        for i in range(0, len(q), chunk):
            sq = np.maximum(2.0 - 2.0 * q[i:i + chunk] @ self.bank.T, 0.0)
            out[i:i + chunk] = -np.sqrt(np.partition(sq, self.k - 1, axis=1)[:, self.k - 1])
        return out


def odin(model, images: np.ndarray, temperature: float, epsilon: float, batch_size: int, device: str) -> np.ndarray:
    """ODIN (Liang et al. 2018): temperature-scaled MSP after a small step against the predicted class's loss."""
    import torch

    out = []
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(images[i:i + batch_size]).to(device).requires_grad_(True)
        logits = model(x) / temperature
        loss = torch.nn.functional.cross_entropy(logits, logits.argmax(1))
        (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            perturbed = model(x - epsilon * grad.sign()) / temperature
            out.append(torch.softmax(perturbed, 1).max(1).values.cpu().numpy())
    return np.concatenate(out)
