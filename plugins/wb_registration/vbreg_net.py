"""The variational non-local correspondence network of VBReg (Jiang et al., CVPR 2023), sized for CPU.

Each layer is PointDSC's compatibility-guided non-local block whose query, key and value projections carry
a deterministic GRU state h and a Gaussian latent z (prior p(z|h); label-aware posterior q(z|h, b) during
training). Latent noise is an explicit input, so inference is deterministic under a seed and the ONNX
graph matches torch exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

INPUTS = ("matches", "noise")
OUTPUTS = ("logits", "attention", "compatibility")
ROLES = 3  # query, key, value


def pairwise_beta(corr: torch.Tensor, sigma_d: float) -> torch.Tensor:
    """beta_ij = max(0, 1 - d_ij^2 / sigma_d^2) from (B, N, 6) matches; d is the length inconsistency."""

    def dist(p: torch.Tensor) -> torch.Tensor:
        sq = (p * p).sum(-1)
        return torch.sqrt(torch.clamp(sq[:, :, None] + sq[:, None, :] - 2 * p @ p.transpose(1, 2), min=0.0))

    d = torch.abs(dist(corr[..., :3]) - dist(corr[..., 3:]))
    return torch.clamp(1.0 - d * d / (sigma_d * sigma_d), min=0.0)


def gaussian_kl(mu_q: torch.Tensor, s_q: torch.Tensor, mu_p: torch.Tensor, s_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, s_q^2) || N(mu_p, s_p^2)) summed over the last axis."""
    return (torch.log(s_p / s_q) + (s_q ** 2 + (mu_q - mu_p) ** 2) / (2 * s_p ** 2) - 0.5).sum(-1)


def balanced_kl(mu_q: torch.Tensor, s_q: torch.Tensor, mu_p: torch.Tensor, s_p: torch.Tensor,
                balance: float = 0.8) -> torch.Tensor:
    """VBReg's KL balancing (after Dreamer-v2): ``balance`` KL(sg q || p) + (1 - balance) KL(q || sg p),
    each summed over the latent axis and averaged over the matches (and the batch)."""
    return (balance * gaussian_kl(mu_q.detach(), s_q.detach(), mu_p, s_p).mean()
            + (1 - balance) * gaussian_kl(mu_q, s_q, mu_p.detach(), s_p.detach()).mean())


def feature_compatibility(cosine: torch.Tensor, sigma2: torch.Tensor | float, zero_diagonal: bool = False,
                          ) -> torch.Tensor:
    """S = clip(1 - (1 - cos) / sigma^2, 0, 1) from feature cosines (..., N, N); optionally a zero diagonal."""
    compat = torch.clamp(1.0 - (1.0 - cosine) / sigma2, 0.0, 1.0)
    if zero_diagonal:
        compat = compat * (1.0 - torch.eye(compat.shape[-1], dtype=compat.dtype, device=compat.device))
    return compat


class VariationalNonLocal(nn.Module):
    """One layer: GRU states and Gaussian latents for Q, K, V, then beta-weighted attention and a residual MLP."""

    def __init__(self, dim: int, hidden: int, latent: int, label_dim: int) -> None:
        super().__init__()
        self.dim, self.latent = dim, latent
        self.grus = nn.ModuleList(nn.GRUCell(latent + dim, hidden) for _ in range(ROLES))
        self.priors = nn.ModuleList(nn.Linear(hidden, 2 * latent) for _ in range(ROLES))
        self.posteriors = nn.ModuleList(nn.Linear(hidden + label_dim, 2 * latent) for _ in range(ROLES))
        self.projections = nn.ModuleList(nn.Linear(hidden + latent, dim) for _ in range(ROLES))
        self.message = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    @staticmethod
    def _gaussian(head: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = head(x).chunk(2, dim=-1)
        return mu, F.softplus(raw) + 0.1

    def forward(self, feats, states, latents, beta, noise, label_emb=None):
        """feats (B,N,d); states/latents: 3 tensors (B,N,·); noise (B,N,3,Z); label_emb (B,N,e) or None."""
        b, n, _ = feats.shape
        new_states, new_latents, proj, kl = [], [], [], []
        for r in range(ROLES):
            h = self.grus[r](torch.cat([latents[r], feats], -1).reshape(b * n, -1),
                             states[r].reshape(b * n, -1)).reshape(b, n, -1)
            mu_p, s_p = self._gaussian(self.priors[r], h)
            if label_emb is None:
                z = mu_p + s_p * noise[:, :, r]
                kl.append(feats.new_zeros(()))
            else:
                mu_q, s_q = self._gaussian(self.posteriors[r], torch.cat([h, label_emb], -1))
                z = mu_q + s_q * noise[:, :, r]
                kl.append(balanced_kl(mu_q, s_q, mu_p, s_p))
            new_states.append(h)
            new_latents.append(z)
            proj.append(F.relu(self.projections[r](torch.cat([h, z], -1))))
        q, k, v = proj
        attn = torch.softmax(beta * (q @ k.transpose(1, 2)) / math.sqrt(self.dim), dim=-1)
        feats = feats + self.message(attn @ v)
        return feats, new_states, new_latents, attn, torch.stack(kl)


class VBRegNet(nn.Module):
    """Matches (B, N, 6) -> inlier logits (B, N), per-layer attention (B, L, N, N), per-layer feature cosines
    (B, L, N, N) and, in training, the balanced KL of each layer and role (L, 3; zeros without labels).

    The feature compatibility is ``feature_compatibility(cos, sigma2)`` with the learned ``sigma2`` (training
    loss, hypothesis weights) or, as the reference votes, with its initial value 1."""

    def __init__(self, layers: int = 4, dim: int = 32, hidden: int = 32, latent: int = 16, label_dim: int = 16,
                 sigma_d: float = 0.03) -> None:
        super().__init__()
        self.config = {"layers": layers, "dim": dim, "hidden": hidden, "latent": latent, "label_dim": label_dim,
                       "sigma_d": sigma_d}
        self.layers_n, self.hidden, self.latent, self.sigma_d = layers, hidden, latent, sigma_d
        self.embed = nn.Linear(6, dim)
        self.label_embed = nn.Linear(2, label_dim)
        self.layers = nn.ModuleList(VariationalNonLocal(dim, hidden, latent, label_dim) for _ in range(layers))
        self.classifier = nn.Sequential(nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
        self.log_sigma = nn.Parameter(torch.zeros(()))

    def noise_shape(self, n: int) -> tuple[int, int, int, int]:
        return (n, self.layers_n, ROLES, self.latent)

    def forward(self, corr: torch.Tensor, noise: torch.Tensor, labels: torch.Tensor | None = None):
        """``noise`` (B, N, L, 3, Z) standard normal; ``labels`` (B, N) in {0, 1} selects the posterior."""
        b, n, _ = corr.shape
        beta = pairwise_beta(corr, self.sigma_d)
        feats = self.embed(corr - corr.mean(dim=1, keepdim=True))
        label_emb = None if labels is None else self.label_embed(F.one_hot(labels.long(), 2).float())
        states = [corr.new_zeros(b, n, self.hidden) for _ in range(ROLES)]
        latents = [corr.new_zeros(b, n, self.latent) for _ in range(ROLES)]
        attns, cosines, kl = [], [], []
        for i, layer in enumerate(self.layers):
            feats, states, latents, attn, layer_kl = layer(feats, states, latents, beta, noise[:, :, i], label_emb)
            unit = F.normalize(feats, dim=-1)
            cosines.append(unit @ unit.transpose(1, 2))
            attns.append(attn)
            kl.append(layer_kl)
        logits = self.classifier(feats).squeeze(-1)
        return logits, torch.stack(attns, 1), torch.stack(cosines, 1), torch.stack(kl)

    @property
    def sigma2(self) -> torch.Tensor:
        """The learned sigma^2 of the feature compatibility."""
        return torch.exp(2 * self.log_sigma)


class SinglePairVBReg(nn.Module):
    """The exported form: one pair, matches on the leading (dynamic) axis.

    (N, 6) matches and (N, L*3*Z) noise -> logits (N,), attention (N, L, N) and the feature cosines (N, L, N).
    The ONNX graph calls the cosines "compatibility": they are the unclipped compatibility at sigma = 1, and
    the closed-form stages apply the sigma kernel (:func:`feature_compatibility`) themselves.
    """

    def __init__(self, net: VBRegNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, corr: torch.Tensor, noise: torch.Tensor):
        n = corr.shape[0]
        logits, attn, compat, _ = self.net(corr[None], noise.reshape(1, n, self.net.layers_n, ROLES, -1))
        return logits[0], attn[0].transpose(0, 1), compat[0].transpose(0, 1)
