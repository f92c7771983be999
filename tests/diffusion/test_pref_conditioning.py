"""Training conditioning for SD and SDXL: shapes, what each part holds, and that the UNet uses all of it."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from wb_diffusion.conditioning import encode_captions, sdxl_time_ids  # noqa: E402
from wb_diffusion.tiny import tiny_sd_pipeline, tiny_sdxl_pipeline  # noqa: E402

CAPTIONS = ["a red circle", "a blue square above a green star"]


def _unet_out(pipe, cond, seed=0):
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn(len(cond.states), 4, 16, 16, generator=g)
    with torch.no_grad():
        return pipe.unet(latents, torch.full((len(latents),), 500), **cond.unet_kwargs()).sample


def test_sd_conditioning_is_the_text_encoders_last_states():
    pipe = tiny_sd_pipeline(seed=0)
    cond = encode_captions(pipe, CAPTIONS)
    ids = pipe.tokenizer(CAPTIONS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        expected = pipe.text_encoder(ids.input_ids)[0]
    assert cond.pooled is None and cond.time_ids is None and set(cond.unet_kwargs()) == {"encoder_hidden_states"}
    torch.testing.assert_close(cond.states, expected, rtol=0, atol=0)
    twice = cond.repeat(2)
    assert twice.states.shape == (4, 77, 32) and torch.equal(twice.states[2:], cond.states)
    assert _unet_out(pipe, cond).shape == (2, 4, 16, 16)


def test_sdxl_conditioning_has_both_encoders_pooled_text_and_time_ids():
    pipe = tiny_sdxl_pipeline(seed=0)
    cond = encode_captions(pipe, CAPTIONS, target_size=(32, 32), original_sizes=[(64, 48), (32, 32)])
    assert cond.states.shape == (2, 77, 64) and cond.pooled.shape == (2, 32)
    assert cond.time_ids.tolist() == [[64, 48, 0, 0, 32, 32], [32, 32, 0, 0, 32, 32]]
    ids = pipe.tokenizer_2(CAPTIONS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        out = pipe.text_encoder_2(ids.input_ids, output_hidden_states=True)
    torch.testing.assert_close(cond.pooled, out.text_embeds, rtol=0, atol=0)
    torch.testing.assert_close(cond.states[..., 32:], out.hidden_states[-2], rtol=0, atol=0)
    twice = cond.repeat(2)
    assert twice.pooled.shape == (4, 32) and twice.time_ids.shape == (4, 6)
    other_size = encode_captions(pipe, CAPTIONS, target_size=(32, 32), original_sizes=[(32, 32), (32, 32)])
    a, b = _unet_out(pipe, cond), _unet_out(pipe, other_size)
    assert torch.equal(a[1], b[1]) and not torch.equal(a[0], b[0])


def test_time_ids_default_to_uncropped_target_size():
    assert sdxl_time_ids([(10, 20)], (32, 32)).tolist() == [[10, 20, 0, 0, 32, 32]]
    assert sdxl_time_ids([(10, 20)], (32, 32), [(3, 4)]).tolist() == [[10, 20, 3, 4, 32, 32]]
