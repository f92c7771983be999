"""The tiny CLIP's text tower converted to a transformers CLIPTextModel reproduces open_clip's text states, and the
written BPE files make CLIPTokenizer tokenize as open_clip does (known-answer check of issue 15)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

CAPTIONS = ["a small red circle", "A Large BLUE star, above a cyan-square!", "", "two   spaces and émigré café",
            "a large purple hexagon to the left of a small green cross"]


@pytest.fixture(scope="module")
def clip():
    from workbench.api import load_clip

    return load_clip("tiny-clip")


def _open_clip_states(clip, ids):
    model = clip.model
    x = model.token_embedding(ids) + model.positional_embedding
    return model.ln_final(model.transformer(x, attn_mask=model.attn_mask))


def _upto_eot(ids, eot):
    return [row[: row.tolist().index(eot) + 1] for row in ids]


def test_clip_tokenizer_gives_open_clip_ids(clip, tmp_path):
    from wb_diffusion.text_tower import clip_tokenizer

    tok = clip_tokenizer(clip, tmp_path)
    ours = tok(CAPTIONS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    theirs = clip.tokenizer(CAPTIONS, context_length=77)
    eot = clip.tokenizer.eot_token_id
    for a, b in zip(_upto_eot(ours, eot), _upto_eot(theirs, eot), strict=True):
        assert a.tolist() == b.tolist()
    assert ours.shape == (len(CAPTIONS), 77) and (ours[:, -1] == tok.pad_token_id).all()
    assert tok.pad_token_id == eot and tok.bos_token_id == clip.tokenizer.sot_token_id


def test_converted_text_model_reproduces_open_clip_states_and_reloads(clip, tmp_path):
    from transformers import CLIPTextModel

    from wb_diffusion.text_tower import convert_text_tower

    model = convert_text_tower(clip)
    ids = clip.tokenizer(CAPTIONS, context_length=77)
    with torch.no_grad():
        ours = model(ids).last_hidden_state
        theirs = _open_clip_states(clip, ids)
    assert ours.shape == (len(CAPTIONS), 77, 64)
    assert (ours - theirs).abs().max() < 1e-5
    model.save_pretrained(tmp_path / "te")
    again, info = CLIPTextModel.from_pretrained(tmp_path / "te", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    with torch.no_grad():
        assert torch.equal(again.eval()(ids).last_hidden_state, ours)
