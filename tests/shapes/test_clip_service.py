"""The host's CLIP loading service: weight sources, encoders, per-token/per-patch features, attention, bad input."""

from __future__ import annotations

import socket
import warnings

import pytest
import torch

from workbench.api import zoo_card
from workbench.clip import CaptionTruncatedWarning, ClipLoadError, load_clip, save_clip_dir
from workbench.core.checkpoints import save_safetensors

CAPTIONS = ["a small red circle above a large blue square", "a green star"]


@pytest.fixture(scope="module")
def random_tiny():
    torch.manual_seed(0)
    return load_clip("tiny-clip", weights="random")


@pytest.fixture(scope="module")
def images():
    from wb_shapes.world import generate_scenes

    return [s.image for s in generate_scenes(3, "test", 0)]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_zoo_tiny_clip_loads_offline_with_the_real_tokenizer(no_network):
    import open_clip

    clip = load_clip("tiny-clip")
    assert clip.source.startswith("zoo:") and isinstance(clip.tokenizer, open_clip.SimpleTokenizer)
    assert clip.context_length == 77 and clip.image_size == 64 and clip.tokenizer.vocab_size == 49408
    tokens = clip.tokenize(CAPTIONS)
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 77)
    assert int(tokens[0, 0]) == clip.tokenizer.sot_token_id and int(tokens.max()) == clip.tokenizer.eot_token_id
    card = zoo_card("tiny-clip")
    assert card.plugin == "shapes-clip" and clip.config_dir == card.folder and (card.folder / "card.json").is_file()


def test_trimmed_text_encoder_and_token_states_equal_open_clip(random_tiny):
    clip = random_tiny
    tokens = clip.tokenize(CAPTIONS)
    with torch.no_grad():
        reference = clip.model.encode_text(tokens, normalize=True)
        states = clip.text_states(tokens)
        assert torch.allclose(clip.encode_text(CAPTIONS), reference, atol=1e-5)
        assert states.projected.shape == (2, 77, clip.embed_dim) and states.hidden.shape[:2] == (2, 77)
        assert states.eot.tolist() == [len(clip.tokenizer.encode(c)) + 1 for c in CAPTIONS]
        assert torch.allclose(torch.nn.functional.normalize(states.pooled, dim=-1), reference, atol=1e-5)


def test_image_tokens_pool_like_encode_image(random_tiny, images):
    clip = random_tiny
    with torch.no_grad():
        pooled, patches = clip.image_tokens(images)
        assert torch.allclose(pooled, clip.encode_image(images, normalize=False), atol=1e-5)
    gh, gw = clip.patch_grid
    assert patches.shape == (3, gh * gw, clip.embed_dim) and (gh, gw) == (8, 8)


def test_preprocess_resizes_and_normalises(random_tiny, images):
    import numpy as np

    clip = random_tiny
    big = np.repeat(np.repeat(images[0], 2, axis=0), 3, axis=1)  # 128 x 192
    x = clip.preprocess(big)
    assert x.shape == (1, 3, 64, 64)
    white = clip.preprocess(np.full((64, 64, 3), 255, np.uint8))
    expected = (1 - torch.tensor(clip.mean)) / torch.tensor(clip.std)
    assert torch.allclose(white[0, :, 0, 0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="image 0"):
        clip.preprocess([np.zeros((8, 8), np.uint8)])


def test_text_attention_recording_is_exact_and_differentiable(random_tiny):
    clip = random_tiny
    tokens = clip.tokenize(CAPTIONS)
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference = clip.model.encode_text(tokens)
    with clip.record_text_attention() as maps:
        states = clip.text_states(tokens)
        score = torch.nn.functional.cosine_similarity(clip.model.encode_image(image), states.pooled[:1]).sum()
    assert torch.allclose(states.pooled, reference, atol=1e-5)
    assert len(maps) == len(clip.model.transformer.resblocks) and maps[0].shape == (2, 4, 77, 77)
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, 4, 77), atol=1e-5)
    assert float(maps[0].detach().triu(diagonal=1).abs().max()) == 0.0  # causal
    grads = torch.autograd.grad(score, maps)
    eot = int(states.eot[0])
    assert float(grads[-1][0, :, eot].abs().sum()) > 0
    assert float(grads[-1][0, :, :eot].abs().sum()) == 0.0  # last layer: only the pooled EOT row matters
    assert "attention" not in clip.model.transformer.resblocks[0].__dict__  # stock blocks restored


def test_image_attention_recording(random_tiny, images):
    clip = random_tiny
    with torch.no_grad():
        reference = clip.model.encode_image(clip.preprocess(images))
        with clip.record_image_attention() as maps:
            pooled = clip.encode_image(images, normalize=False)
    assert len(maps) == len(clip.model.visual.transformer.resblocks)
    assert maps[0].shape == (3, 3, 65, 65) and torch.allclose(pooled, reference, atol=1e-5)


def test_local_file_and_local_dir_give_identical_outputs(random_tiny, tmp_path, images, no_network):
    clip = random_tiny
    weights = tmp_path / "weights.safetensors"
    save_safetensors(clip.model.state_dict(), weights)
    from_file = load_clip("tiny-clip", weights=weights)
    folder = save_clip_dir(clip, tmp_path / "folder")
    from_dir = load_clip(f"local-dir:{folder}")
    torch_file = tmp_path / "weights.pt"
    torch.save(clip.model.state_dict(), torch_file)
    from_pt = load_clip("wb-tiny-clip", weights=str(torch_file))
    with torch.no_grad():
        expected = (clip.encode_image(images), clip.encode_text(CAPTIONS))
        for other in (from_file, from_dir, from_pt):
            assert torch.equal(other.encode_image(images), expected[0])
            assert torch.equal(other.encode_text(CAPTIONS), expected[1])
    assert from_dir.source == f"local-dir:{folder}" and from_file.source == str(weights)


def test_half_precision_folder_is_close(random_tiny, tmp_path, images):
    folder = save_clip_dir(random_tiny, tmp_path / "half", half=True)
    clip = load_clip(f"local-dir:{folder}")
    assert clip.model.logit_scale.dtype == torch.float32
    with torch.no_grad():
        assert torch.allclose(clip.encode_image(images), random_tiny.encode_image(images), atol=1e-2)


def test_long_caption_is_truncated_with_a_warning(random_tiny):
    from wb_shapes.world import generate_scenes

    long = generate_scenes(1, "test", 0, min_objects=4, max_objects=4)[0].long_caption
    with pytest.warns(CaptionTruncatedWarning, match="caption 1 has .* tokens"):
        tokens = random_tiny.tokenize(["a red star", long])
    assert int(tokens[1, -1]) == random_tiny.tokenizer.eot_token_id and int(tokens[1].argmax()) == 76
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptionTruncatedWarning)
        emb = random_tiny.encode_text(["a red star", long])
    assert torch.isfinite(emb).all() and emb.shape == (2, random_tiny.embed_dim)


def test_empty_caption_is_refused(random_tiny):
    with pytest.raises(ValueError, match="caption 1 is empty"):
        random_tiny.tokenize(["a red star", "   "])
    with pytest.raises(ValueError, match="no captions"):
        random_tiny.tokenize([])


def test_weights_that_do_not_fit_name_architecture_and_key(random_tiny, tmp_path):
    state = dict(random_tiny.model.state_dict())
    state["visual.conv1.weight"] = torch.zeros(8, 3, 8, 8)
    bad = tmp_path / "bad.safetensors"
    save_safetensors(state, bad)
    with pytest.raises(ClipLoadError, match=r"architecture 'tiny-clip \(local-dir:.*'visual\.conv1\.weight' has shape"):
        load_clip("tiny-clip", weights=bad)
    del state["visual.conv1.weight"]
    state["visual.conv1.weight"] = random_tiny.model.visual.conv1.weight
    state.pop("ln_final.bias")
    save_safetensors(state, bad)
    with pytest.raises(ClipLoadError, match="'ln_final.bias' is missing"):
        load_clip("tiny-clip", weights=bad)


def test_hub_tag_offline_gives_a_clear_message(monkeypatch, no_network):
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    with pytest.raises(ClipLoadError, match="offline.*Give a local file"):
        load_clip("ViT-B-32", weights="openai")
    with pytest.raises(ClipLoadError, match="offline"):
        load_clip("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")


def test_other_bad_sources(tmp_path, monkeypatch):
    with pytest.raises(ClipLoadError, match="no such weights file"):
        load_clip("ViT-B-32", weights=tmp_path / "missing.safetensors")
    with pytest.raises(ClipLoadError, match="name the weights"):
        load_clip("ViT-B-32")
    with pytest.raises(ClipLoadError, match="unknown CLIP 'ViT-Nope': not a zoo model"):
        load_clip("ViT-Nope")
    with pytest.raises(ClipLoadError, match="not an open_clip folder"):
        load_clip(f"local-dir:{tmp_path}")
    with pytest.raises(ClipLoadError, match="is not a CLIP: its loader is 'wb_digits.zoo:load_card'"):
        load_clip("digits-cnn")


def test_importing_the_service_is_light():
    import subprocess
    import sys

    code = "import sys, workbench.clip, workbench.api; print('torch' in sys.modules, 'open_clip' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_real_architecture_vit_b_32_runs_the_same_code_path(images, no_network):
    clip = load_clip("ViT-B-32", weights="random")
    assert clip.image_size == 224 and clip.patch_grid == (7, 7) and clip.context_length == 77
    with torch.no_grad():
        pooled, patches = clip.image_tokens(images[:1])
        assert patches.shape == (1, 49, 512)
        assert torch.allclose(pooled, clip.model.encode_image(clip.preprocess(images[:1])), atol=1e-4)
        tokens = clip.tokenize(CAPTIONS)
        with clip.record_text_attention() as maps:
            states = clip.text_states(tokens)
        assert len(maps) == 12 and maps[0].shape == (2, 8, 77, 77)
        assert torch.allclose(states.pooled, clip.model.encode_text(tokens), atol=1e-4)


def test_a_clip_card_in_the_users_zoo_wins_and_missing_weights_name_the_recipe(tmp_path, monkeypatch):
    """The user's zoo is searched first; its card's folder is loaded, and missing weights name the recipe."""
    import shutil

    from workbench.core import plugins

    shipped = zoo_card("tiny-clip")
    user = tmp_path / "zoo" / "tiny-clip"
    user.mkdir(parents=True)
    shutil.copyfile(shipped.folder / "card.json", user / "card.json")
    shutil.copyfile(shipped.folder / "open_clip_config.json", user / "open_clip_config.json")
    monkeypatch.setenv("WORKBENCH_ZOO", str(tmp_path / "zoo"))
    plugins.reset_host()
    try:
        assert zoo_card("tiny-clip").folder == user
        with pytest.raises(ClipLoadError, match="workbench batch zoo-tiny-clip"):
            load_clip("tiny-clip")
        shutil.copyfile(shipped.weights_path, user / shipped.weights)
        assert load_clip("tiny-clip").config_dir == user
    finally:
        plugins.reset_host()
