"""Known-answer checks of the CLIP4DM attribution and the patched attention (tiny random open_clip CLIP)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wb_clipmap.attribution import explain

TEXT = "A photo depicts a small red circle above a large blue square"


def test_patched_attention_reproduces_stock_outputs(tiny_clip, rgb):
    pixels = tiny_clip.preprocess(rgb)
    tokens = tiny_clip.tokenize([TEXT, "a green star"])
    model = tiny_clip.model
    with torch.no_grad():
        stock_image, stock_text = model.encode_image(pixels), model.encode_text(tokens)
        with tiny_clip.record_text_attention() as text_maps, tiny_clip.record_image_attention() as image_maps:
            image, text = model.encode_image(pixels), model.encode_text(tokens)
    assert torch.allclose(image, stock_image, atol=1e-5) and torch.allclose(text, stock_text, atol=1e-5)
    assert len(text_maps) == len(model.transformer.resblocks)
    assert len(image_maps) == len(model.visual.transformer.resblocks)
    assert torch.allclose(text_maps[-1].sum(-1), torch.ones(()), atol=1e-5)
    # the explicit attention is used, not only recorded: stock outputs differ once a probability is changed
    assert not torch.equal(image, model.encode_image(pixels * 0.5))


def test_attribution_length_is_the_token_count(tiny_clip, rgb):
    ex = explain(tiny_clip, rgb, TEXT)
    n = len(tiny_clip.tokenizer.encode(TEXT))
    assert len(ex.token_scores) == len(ex.pieces) == n
    assert ex.eot == n + 1


def test_columns_after_eot_are_zero_and_trimming_changes_nothing(tiny_clip, rgb):
    full = explain(tiny_clip, rgb, TEXT, trim_padding=False)
    trimmed = explain(tiny_clip, rgb, TEXT)
    assert full.relevance.shape == (77, 77)
    assert np.all(full.relevance[full.eot, full.eot + 1:] == 0.0)
    assert np.all(np.triu(full.relevance, 1) == 0.0)
    np.testing.assert_allclose(full.token_scores, trimmed.token_scores, rtol=1e-4, atol=1e-9)


def test_last_layer_gradient_reaches_only_the_eot_row(tiny_clip, rgb):
    ex = explain(tiny_clip, rgb, TEXT, text_layers=1)
    others = np.delete(ex.relevance, ex.eot, axis=0)
    assert np.all(others == 0.0) and np.abs(ex.relevance[ex.eot]).max() > 0


def test_flipping_the_target_sign_flips_every_attribution(tiny_clip, rgb):
    plus = explain(tiny_clip, rgb, TEXT, image_start_layer=-1)
    minus = explain(tiny_clip, rgb, TEXT, target_sign=-1.0, image_start_layer=-1)
    assert np.array_equal(minus.token_scores, -plus.token_scores)
    # one layer of signed relevance is linear in the target (a rollout over several layers is not)
    assert np.array_equal(minus.image_signed, -plus.image_signed)
    assert np.abs(plus.token_scores).max() > 0


def _cosine_with_scaled_attention(clip, pixels, tokens, layer: int, row: int, col: int, factor: float) -> float:
    """cos(image, text) with one text attention probability A[row, col] of ``layer`` scaled (all heads)."""
    block = clip.model.transformer.resblocks[layer]
    mha = block.attn

    def attention(q_x, k_x=None, v_x=None, attn_mask=None):
        b, n, w = q_x.shape
        h = mha.num_heads
        q, k, v = (t.reshape(b, n, h, w // h).transpose(1, 2)
                   for t in F.linear(q_x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1))
        scores = q @ k.transpose(-2, -1) / (w // h) ** 0.5 + attn_mask
        probs = scores.softmax(-1).clone()
        probs[..., row, col] *= factor
        return mha.out_proj((probs @ v).transpose(1, 2).reshape(b, n, w))

    block.attention = attention
    try:
        with torch.no_grad():
            image = F.normalize(clip.model.encode_image(pixels), dim=-1)
            text = F.normalize(clip.text_states(tokens).pooled, dim=-1)
        return float((image * text).sum())
    finally:
        del block.attention


def test_finite_differences_agree_with_the_attribution(rgb):
    from workbench.api import load_clip

    torch.manual_seed(1)
    clip = load_clip("wb-tiny-clip", weights="random")
    clip.model.double()
    pixels = clip.preprocess(rgb).double()
    tokens = clip.tokenize(TEXT)
    tokens = tokens[:, : int(tokens.argmax()) + 1]
    layers = len(clip.model.transformer.resblocks)
    heads = clip.model.transformer.resblocks[0].attn.num_heads
    ex = explain(clip, pixels, TEXT, text_layers=layers)
    delta = 1e-4
    for j in (1, 5, ex.eot - 1):
        fd = sum((_cosine_with_scaled_attention(clip, pixels, tokens, layer, ex.eot, j, 1 + delta)
                  - _cosine_with_scaled_attention(clip, pixels, tokens, layer, ex.eot, j, 1 - delta)) / (2 * delta)
                 for layer in range(layers))
        assert fd / (layers * heads) == pytest.approx(ex.token_scores[j - 1], rel=1e-4, abs=1e-9)


def test_image_relevance_shapes_and_signs(tiny_clip, rgb):
    ex = explain(tiny_clip, rgb, TEXT)
    assert ex.image_unsigned.shape == ex.image_signed.shape == tiny_clip.patch_grid
    assert np.all(ex.image_unsigned >= 0) and (ex.image_signed < 0).any()


def test_bad_layer_choices_are_refused(tiny_clip, rgb):
    with pytest.raises(ValueError, match="text_layers=9"):
        explain(tiny_clip, rgb, TEXT, text_layers=9)
    with pytest.raises(ValueError, match="image_start_layer=5"):
        explain(tiny_clip, rgb, TEXT, image_start_layer=5)
