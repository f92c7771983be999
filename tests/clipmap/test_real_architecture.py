"""The same code on a real architecture: ViT-B-32, randomly initialised, on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wb_clipmap.analysis import add_word_maps, analyse
from wb_clipmap.params import AttributionFields


@pytest.mark.slow
def test_vit_b_32_attributions_and_maps():
    from workbench.api import load_clip

    torch.manual_seed(0)
    clip = load_clip("ViT-B-32", weights="random")
    image = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    caption = "a cup of coke on a wooden table"
    settings = AttributionFields()
    with torch.no_grad():
        stock = clip.model.encode_text(clip.tokenize(settings.template + caption))
        with clip.record_text_attention():
            patched = clip.model.encode_text(clip.tokenize(settings.template + caption))
    assert torch.allclose(stock, patched, atol=1e-5)
    analysis = analyse(clip, image, caption, settings, "most_negative")
    ex = analysis.explanation
    assert len(ex.token_scores) == len(clip.tokenizer.encode(settings.template + caption))
    assert analysis.words.words == caption.split()
    assert ex.image_unsigned.shape == ex.image_signed.shape == (7, 7)
    assert analysis.flagging.flags.sum() == 1
    add_word_maps(clip, image, analysis, [1, 3], settings)
    assert [m[0] for m in analysis.word_maps] == [1, 3] and analysis.word_maps[0][1].shape == (7, 7)
