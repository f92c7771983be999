"""Known answers of the host's dense CLIP features and RoIAlign region features (workbench.clip.dense)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbench.clip.dense import (
    DenseFeaturesError,
    boxes_to_grid,
    class_maps,
    dense_features,
    dense_grid_size,
    dense_inputs,
    region_features,
)


def _image(h=64, w=64, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _value_path_reference(clip, pixels):
    """The stock open_clip tower with the last block's attention patched to out_proj(v): the same map, computed
    by open_clip's own forward (class token, ln_pre, blocks, ln_post, proj)."""
    visual = clip.model.visual
    block = visual.transformer.resblocks[-1]
    mha = block.attn
    width = mha.embed_dim

    def value_only(q_x, k_x=None, v_x=None, attn_mask=None):
        return mha.out_proj(F.linear(q_x, mha.in_proj_weight[2 * width:], mha.in_proj_bias[2 * width:]))

    block.attention = value_only
    visual.output_tokens = True
    try:
        _, tokens = visual(pixels)
    finally:
        del block.attention
        visual.output_tokens = False
    tokens = F.normalize(tokens @ visual.proj, dim=-1)
    h, w = visual.grid_size
    return tokens.reshape(len(pixels), h, w, -1).permute(0, 3, 1, 2)


@pytest.mark.parametrize("which", ["zoo", "random"])
def test_dense_map_is_the_value_path_of_the_last_block(which, zoo_clip, random_clip):
    clip = zoo_clip if which == "zoo" else random_clip
    images = [_image(seed=0), _image(seed=1)]
    with torch.no_grad():
        dense = clip.dense_features(images)
        reference = _value_path_reference(clip, clip.preprocess(images))
    assert dense.shape == (2, clip.embed_dim, *clip.patch_grid)
    assert torch.allclose(dense, reference, atol=1e-5)
    assert torch.allclose(dense.norm(dim=1), torch.ones(2, *clip.patch_grid), atol=1e-5)


def test_dense_map_differs_from_ordinary_patch_tokens(random_clip):
    """The value path is not the stock last block: the patch tokens of image_tokens differ."""
    with torch.no_grad():
        dense = random_clip.dense_features(_image())
        _, tokens = random_clip.image_tokens(_image())
    stock = F.normalize(tokens, dim=-1).reshape(1, *random_clip.patch_grid, -1).permute(0, 3, 1, 2)
    assert not torch.allclose(dense, stock, atol=1e-3)


def test_vit_b_32_random_dense_and_regions():
    from workbench.api import load_clip

    torch.manual_seed(0)
    clip = load_clip("ViT-B-32", weights="random")
    image = _image(224, 224)
    with torch.no_grad():
        dense = clip.dense_features(image)
        reference = _value_path_reference(clip, clip.preprocess(image))
    assert dense.shape == (1, 512, 7, 7)
    assert torch.allclose(dense, reference, atol=1e-4)
    cell = region_features(dense[0], [[32, 64, 64, 96]], (224, 224))  # column 1, row 2
    assert torch.allclose(cell[0], dense[0, :, 2, 1], atol=1e-5)


def test_grid_follows_the_image_shape_and_inference_size(random_clip):
    assert dense_grid_size(random_clip.model, 64, 64) == (8, 8)
    assert dense_grid_size(random_clip.model, 48, 80) == (8, 13)  # shorter side to 64 px, whole patches
    assert dense_grid_size(random_clip.model, 64, 64, size=128) == (16, 16)
    with torch.no_grad():
        wide = random_clip.dense_features(_image(48, 80))
        big = random_clip.dense_features(_image(), size=128)
    assert wide.shape[2:] == (8, 13) and big.shape[2:] == (16, 16)
    assert torch.isfinite(big).all()


def test_one_token_cell_box_returns_that_cell(random_clip):
    with torch.no_grad():
        dense = random_clip.dense_features(_image())[0]
    boxes = [[8 * j, 8 * i, 8 * j + 8, 8 * i + 8] for i in range(8) for j in range(8)]
    regions = region_features(dense, boxes, (64, 64))
    expected = dense.permute(1, 2, 0).reshape(64, -1)
    assert torch.allclose(regions, expected, atol=1e-5)


def test_whole_image_box_returns_the_grid_mean(random_clip):
    with torch.no_grad():
        dense = random_clip.dense_features(_image(48, 80))[0]
    region = region_features(dense, [[0, 0, 80, 48]], (48, 80))[0]
    assert torch.allclose(region, F.normalize(dense.mean(dim=(1, 2)), dim=0), atol=1e-5)
    raw = region_features(dense, [[0, 0, 80, 48]], (48, 80), normalize=False)[0]
    assert torch.allclose(raw, dense.mean(dim=(1, 2)), atol=1e-5)


def _smooth(h, w):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return np.stack([128 + 100 * np.sin(6 * xx), 128 + 100 * np.cos(5 * yy), 128 + 80 * np.sin(4 * (xx + yy))],
                    -1).astype(np.uint8)


def test_original_and_resized_coordinates_give_the_same_scores(random_clip):
    image = _smooth(48, 80)
    boxes = np.array([[3.0, 5.0, 40.0, 30.0], [50.5, 10.0, 79.0, 47.0]])
    with torch.no_grad():
        dense = random_clip.dense_features(image)[0]
        text = random_clip.encode_text(["a red circle", "a blue square", "a star"])
    h, w = dense.shape[1:]
    resized = boxes * np.array([w * 8 / 80, h * 8 / 48] * 2)  # the model input's pixel frame (64 x 104)
    original = region_features(dense, boxes, (48, 80)) @ text.T
    model_frame = region_features(dense, resized, (h * 8, w * 8)) @ text.T
    assert torch.allclose(original, model_frame, atol=1e-6)
    # and the same (smooth) picture drawn at twice the size, boxes doubled: nearly the same scores
    with torch.no_grad():
        dense2 = random_clip.dense_features(_smooth(96, 160))[0]
    doubled = region_features(dense2, boxes * 2, (96, 160)) @ text.T
    assert torch.allclose(original, doubled, atol=0.05)


def test_batched_regions_match_single(random_clip):
    with torch.no_grad():
        dense = random_clip.dense_features([_image(seed=1), _image(seed=2)])
    boxes = [np.array([[0, 0, 20, 20]]), np.array([[10, 10, 60, 50], [1, 2, 3, 4]])]
    batched = region_features(dense, boxes, (64, 64))
    assert [len(b) for b in batched] == [1, 2]
    assert torch.allclose(batched[1], region_features(dense[1], boxes[1], (64, 64)), atol=1e-6)
    assert region_features(dense[0], np.zeros((0, 4)), (64, 64)).shape == (0, dense.shape[1])


def test_box_scaling_and_class_maps():
    grid = boxes_to_grid([[0, 0, 80, 48]], (48, 80), (8, 13))
    assert grid.tolist() == [[0.0, 0.0, 13.0, 8.0]]
    dense = torch.zeros(1, 2, 2, 2)
    dense[0, 0, 0, :] = 1.0
    dense[0, 1, 1, :] = 1.0
    maps = class_maps(dense, torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
    assert maps[0, 0].tolist() == [[1.0, 1.0], [0.0, 0.0]] and maps[0, 1].tolist() == [[0.0, 0.0], [1.0, 1.0]]


def test_bad_inputs_are_named(random_clip):
    with pytest.raises(DenseFeaturesError, match="image 1 is 80x48"):
        dense_inputs([_image(), _image(48, 80)], random_clip.model, random_clip.mean, random_clip.std)
    with pytest.raises(DenseFeaturesError, match="VisionTransformer"):
        dense_features(torch.nn.Linear(2, 2), torch.zeros(1, 3, 8, 8))
    with pytest.raises(DenseFeaturesError, match="multiples of the patch size"):
        dense_features(random_clip.model, torch.zeros(1, 3, 60, 64))


def test_custom_attention_blocks_are_refused(random_clip):
    import copy

    clip = copy.deepcopy(random_clip)
    clip.model.visual.transformer.resblocks[-1].attn = torch.nn.Identity()
    with pytest.raises(DenseFeaturesError, match="nn.MultiheadAttention"):
        clip.dense_features(_image())
