"""Gradient-weighted attention relevance of the vision tower (Chefer et al.), unsigned and signed.

``R = I; for each layer: R <- R + mean_heads(G * A) @ R``, where ``A`` are the attention probabilities and
``G = dS/dA``. The unsigned map clamps ``G * A`` at zero (Chefer); the signed map keeps the sign, so
evidence against the caption shows as negative relevance. The map is the CLS row over the patches.
"""

from __future__ import annotations

import torch


def rollout(attentions: list[torch.Tensor], grads: list[torch.Tensor], signed: bool = False) -> torch.Tensor:
    """``[B, N, N]`` relevance from per-layer attentions and their gradients (``[B, H, N, N]`` each)."""
    batch, _, n, _ = attentions[0].shape
    relevance = torch.eye(n, dtype=attentions[0].dtype, device=attentions[0].device).expand(batch, n, n).clone()
    for attn, grad in zip(attentions, grads):
        cam = grad * attn
        if not signed:
            cam = cam.clamp(min=0)
        relevance = relevance + cam.mean(dim=1) @ relevance
    return relevance


def cls_map(relevance: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The CLS token's relevance over the patches, as ``[B, gh, gw]`` maps (row-major patch order)."""
    return relevance[:, 0, 1:].reshape(relevance.shape[0], *grid)


def layer_slice(n_layers: int, start: int) -> slice:
    """Layers ``start..`` (negative counts from the end); refuses a start outside the tower."""
    if not -n_layers <= start < n_layers:
        raise ValueError(f"image_start_layer={start} is outside the vision tower's {n_layers} layers "
                         f"(use 0..{n_layers - 1} or -{n_layers}..-1)")
    return slice(start, None)
