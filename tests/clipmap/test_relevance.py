"""Chefer relevance rollout on small hand-made tensors, and the centre crop the maps cover."""

from __future__ import annotations

import numpy as np
import torch

from wb_clipmap.relevance import cls_map, rollout
from wb_clipmap.views import model_view


def _layers(seed: int, n: int = 5, layers: int = 3):
    g = torch.Generator().manual_seed(seed)
    attn = [torch.rand(1, 2, n, n, generator=g).softmax(-1) for _ in range(layers)]
    grads = [torch.randn(1, 2, n, n, generator=g) for _ in range(layers)]
    return attn, grads


def test_clamped_rollout_is_at_least_the_identity():
    attn, grads = _layers(0)
    relevance = rollout(attn, grads)
    assert torch.all(relevance - torch.eye(5) >= 0)
    assert cls_map(relevance, (2, 2)).shape == (1, 2, 2)
    assert torch.all(cls_map(relevance, (2, 2)) >= 0)


def test_signed_rollout_of_one_layer_is_identity_plus_the_weighted_attention():
    attn, grads = _layers(1, layers=1)
    relevance = rollout(attn, grads, signed=True)
    expected = torch.eye(5) + (grads[0] * attn[0]).mean(1)
    assert torch.allclose(relevance, expected) and (relevance < 0).any()


def test_model_view_is_the_centre_square():
    image = np.arange(6 * 10).reshape(6, 10)[..., None].repeat(3, -1).astype(np.uint8)
    view = model_view(image)
    assert view.shape == (6, 6, 3) and view[0, 0, 0] == 2
