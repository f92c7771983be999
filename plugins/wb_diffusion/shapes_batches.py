"""Training batches from the shapes world: images as float tensors in [-1, 1] with their short captions."""

from __future__ import annotations

import numpy as np
import torch

from workbench.api import load_sample


def scene_batch(step: int, batch_size: int, data_seed: int, image_size: int, max_objects: int,
                split: str = "train") -> tuple[torch.Tensor, list[str]]:
    """Scenes ``step*B .. step*B+B-1`` of ``split``: a (B, 3, H, W) tensor in [-1, 1] and the captions."""
    world = load_sample("shapes", split=split, n=batch_size, seed=data_seed, image_size=image_size,
                        min_objects=1, max_objects=max_objects, start=step * batch_size)
    images = np.stack([s.image for s in world]).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), [s.caption for s in world]


def to_uint8_images(batch: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [-1, 1] -> HxWx3 uint8 images."""
    array = ((batch.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return list(array)
