"""CLIM's region-caption contrastive objective (no trainer here): mosaic region embeddings against captions.

The image side of a batch is ``[region embeddings of every mosaic's pseudo-boxes ; global embeddings of the single
images]``, the text side the captions of the same images in the same order, embedded **without gradient** (CLIM
keeps the text tower frozen). The loss is open_clip's ``ClipLoss`` on one device: the symmetric InfoNCE
``(CE(s * I T^T, diag) + CE(s * T I^T, diag)) / 2`` with the model's learnable scale ``s = logit_scale.exp()``.
Trained in CLIM: the last vision blocks only (``unlock_last_blocks``); saved as the weight-space ensemble
``alpha * tuned + (1 - alpha) * original`` (``weight_ensemble``, alpha 0.7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from wb_clim.mosaic import CLIM_GRIDS, Mosaic, build_mosaics
from workbench.api import Distributed


def contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor | float
                     ) -> torch.Tensor:
    """Symmetric InfoNCE of matching rows (features normalised here); ``logit_scale`` is the multiplier ``s``."""
    image_features = F.normalize(image_features, dim=-1)
    text_features = F.normalize(text_features, dim=-1)
    logits = logit_scale * image_features @ text_features.T
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def mosaic_region_features(clip, mosaics: Sequence[Mosaic], mosaic_size: int | None = None) -> torch.Tensor:
    """Region embeddings ``[sum N^2, D]`` of every mosaic's pseudo-boxes (row-major, mosaics in order), with
    gradient. Mosaics of one grid size run as one batch; the dense map is computed at ``mosaic_size`` pixels
    (shorter side), or at the mosaic's own size when None, so that every cell keeps its scene's token grid."""
    out: list[torch.Tensor | None] = [None] * len(mosaics)
    for grid in sorted({m.grid for m in mosaics}):
        chosen = [i for i, m in enumerate(mosaics) if m.grid == grid]
        size = mosaic_size or min(mosaics[chosen[0]].image.shape[:2])
        dense = clip.dense_features([mosaics[i].image for i in chosen], size=size)
        regions = clip.region_features(dense, [mosaics[i].pixel_boxes() for i in chosen],
                                       mosaics[chosen[0]].image.shape[:2])
        for i, r in zip(chosen, regions):
            out[i] = r
    return torch.cat(out) if out else torch.zeros(0, clip.embed_dim)


def clim_features(clip, images: Sequence[np.ndarray], captions: Sequence[str], grids: Sequence[int] = CLIM_GRIDS,
                  mosaic_size: int | None = None, dist: Distributed | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``(image side, text side, captions in that order)`` of one CLIM batch; only the image side has gradient.
    Under data parallelism each rank embeds its share of the mosaics and singles and both sides are gathered, so
    every rank holds the whole batch's features (the returned captions are this rank's)."""
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    dist = dist or Distributed()
    mosaics, singles = (dist.share(part) for part in build_mosaics(images, captions, grids))
    parts, ordered = [clip.model.logit_scale.new_zeros(0, clip.embed_dim)], []
    if mosaics:
        parts.append(mosaic_region_features(clip, mosaics, mosaic_size))
        ordered += [c for m in mosaics for c in m.captions]
    if singles:
        parts.append(clip.encode_image([images[i] for i in singles]))
        ordered += [captions[i] for i in singles]
    with torch.no_grad():
        text = clip.encode_text(ordered) if ordered else parts[0].detach()
    return dist.gather(torch.cat(parts)), dist.gather(text), ordered


def clim_loss(clip, images: Sequence[np.ndarray], captions: Sequence[str], grids: Sequence[int] = CLIM_GRIDS,
              mosaic_size: int | None = None, dist: Distributed | None = None) -> torch.Tensor:
    """The CLIM loss of one batch with the model's own temperature (the same on every rank)."""
    image, text, _ = clim_features(clip, images, captions, grids, mosaic_size, dist)
    return contrastive_loss(image, text, clip.model.logit_scale.exp())


def unlock_last_blocks(clip, n: int, train_scale: bool = True) -> list[str]:
    """Freeze the model but the last ``n`` vision transformer blocks (``ln_post``, ``proj`` and the text tower stay
    frozen, as in CLIM's ``lock_image`` with ``unlocked_groups``) and, with ``train_scale``, the logit scale;
    returns the names of the trainable tensors."""
    blocks = clip.model.visual.transformer.resblocks
    if not 0 <= n <= len(blocks):
        raise ValueError(f"the vision tower has {len(blocks)} blocks; cannot unlock {n}")
    for p in clip.model.parameters():
        p.requires_grad_(False)
    for block in list(blocks)[len(blocks) - n:]:
        for p in block.parameters():
            p.requires_grad_(True)
    if train_scale and getattr(clip.model, "logit_scale", None) is not None:
        clip.model.logit_scale.requires_grad_(True)
    return [name for name, p in clip.model.named_parameters() if p.requires_grad]


def weight_ensemble(original: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float = 0.7
                    ) -> dict[str, torch.Tensor]:
    """``alpha * tuned + (1 - alpha) * original`` per floating tensor (others from ``tuned``); same keys needed."""
    if set(original) != set(tuned):
        raise ValueError(f"the state dicts differ in keys: {sorted(set(original) ^ set(tuned))[:5]}")
    return {k: (alpha * v + (1 - alpha) * original[k]) if v.is_floating_point() else v for k, v in tuned.items()}
