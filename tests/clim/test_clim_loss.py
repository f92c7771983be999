"""CLIM's region-caption contrastive loss: open_clip parity, known values, gradients only in the vision tower."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wb_clim.loss import (
    clim_features,
    clim_loss,
    contrastive_loss,
    mosaic_region_features,
    unlock_last_blocks,
    weight_ensemble,
)
from wb_clim.mosaic import build_mosaic


def test_loss_equals_open_clips_clip_loss():
    from open_clip.loss import ClipLoss

    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(7, 16), dim=-1), F.normalize(torch.randn(7, 16), dim=-1)
    scale = torch.tensor(14.3)
    assert contrastive_loss(image, text, scale) == pytest.approx(float(ClipLoss()(image, text, scale)), abs=1e-6)


def test_loss_known_values():
    eye = torch.eye(5)
    assert float(contrastive_loss(eye, eye, 100.0)) < 1e-6
    same = torch.ones(5, 3)
    assert float(contrastive_loss(same, same, 10.0)) == pytest.approx(math.log(5), abs=1e-6)
    # swapping two captions makes it worse; the loss is symmetric in its two sides
    swapped = eye[[1, 0, 2, 3, 4]]
    assert contrastive_loss(eye, swapped, 10.0) > contrastive_loss(eye, eye, 10.0)
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    assert float(contrastive_loss(a, b, 3.0)) == pytest.approx(float(contrastive_loss(b, a, 3.0)), abs=1e-6)


def _scenes(n):
    from workbench.api import load_sample

    world = load_sample("shapes", split="train", n=n, min_objects=1, max_objects=2)
    return [s.image for s in world], [s.caption for s in world]


def test_clim_batch_order_and_gradients(random_clip):
    images, captions = _scenes(6)
    image, text, ordered = clim_features(random_clip, images, captions, grids=(2,))
    assert image.shape == text.shape == (6, random_clip.embed_dim)
    assert ordered == captions  # four mosaic cells (row-major = batch order), then the two singles
    assert image.requires_grad and not text.requires_grad
    random_clip.model.zero_grad()
    loss = clim_loss(random_clip, images, captions, grids=(2,))
    loss.backward()
    visual = random_clip.model.visual.transformer.resblocks[-1].mlp.c_fc.weight.grad
    assert visual is not None and visual.abs().sum() > 0
    assert random_clip.model.token_embedding.weight.grad is None
    random_clip.model.zero_grad()


def test_mosaic_cell_regions_are_the_dense_maps_cells(random_clip):
    images, captions = _scenes(4)
    mosaic = build_mosaic(images, captions, 2, cell_size=32)  # 64 px mosaic: 8x8 tokens, 4x4 per cell
    with torch.no_grad():
        regions = mosaic_region_features(random_clip, [mosaic])
        dense = random_clip.dense_features(mosaic.image)[0]
    top_right = F.normalize(dense[:, :4, 4:].mean(dim=(1, 2)), dim=0)
    assert torch.allclose(regions[1], top_right, atol=1e-5)


def test_unlock_last_blocks_and_weight_ensemble(random_clip):
    names = unlock_last_blocks(random_clip, 1)
    assert names[0] == "logit_scale" and all(n.startswith("visual.transformer.resblocks.2.") for n in names[1:])
    assert unlock_last_blocks(random_clip, 0, train_scale=False) == []
    assert not random_clip.model.visual.proj.requires_grad
    with pytest.raises(ValueError, match="cannot unlock 9"):
        unlock_last_blocks(random_clip, 9)
    for p in random_clip.model.parameters():
        p.requires_grad_(True)
    original = {"w": torch.zeros(2), "n": torch.tensor([3])}
    tuned = {"w": torch.ones(2), "n": torch.tensor([5])}
    mixed = weight_ensemble(original, tuned, 0.7)
    assert torch.allclose(mixed["w"], torch.full((2,), 0.7)) and mixed["n"].item() == 5
    with pytest.raises(ValueError, match="differ in keys"):
        weight_ensemble(original, {"w": torch.ones(2)})
    assert np.isclose(float(weight_ensemble(original, tuned, 0.0)["w"][0]), 0.0)
