"""The zoo's tiny text-to-image model is a standard diffusers StableDiffusionPipeline folder: it loads by zoo id as
float32, its tokenizer and text encoder are the tiny CLIP's, and it draws the colour a prompt asks for."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def pipe():
    from wb_diffusion.pipelines import load_pipeline

    return load_pipeline("tiny-shapes-sd")


def test_the_zoo_model_is_a_stable_diffusion_folder_with_the_tiny_clip_text_tower(pipe):
    from diffusers import StableDiffusionPipeline

    from wb_diffusion.text_tower import convert_text_tower
    from workbench.api import load_clip, zoo_card

    folder = zoo_card("tiny-shapes-sd").folder
    assert isinstance(StableDiffusionPipeline.from_pretrained(folder, local_files_only=True), StableDiffusionPipeline)
    assert pipe.unet.dtype == torch.float32 and (folder / "tokenizer" / "merges.txt").is_file()
    clip = load_clip("tiny-clip")
    captions = ["a large red circle", "a small blue star to the left of a large green square"]
    ids = pipe.tokenizer(captions, padding="max_length", max_length=77, return_tensors="pt").input_ids
    theirs = clip.tokenizer(captions, context_length=77)
    eot = clip.tokenizer.eot_token_id
    for a, b in zip(ids.tolist(), theirs.tolist(), strict=True):
        assert a[: a.index(eot) + 1] == b[: b.index(eot) + 1]
    with torch.no_grad():
        stored = pipe.text_encoder(ids).last_hidden_state
        converted = convert_text_tower(clip)(ids).last_hidden_state
    assert (stored - converted).abs().max() < 0.05  # float16 storage of the same weights


def test_the_zoo_model_draws_the_colour_it_is_asked_for(pipe):
    from wb_diffusion.sampling import Sample, generate

    def colour_share(prompt, channel):
        images = generate(pipe, [Sample(prompt, seed, 20, 5.0, "ddim") for seed in range(4)])
        rgb = np.stack(images).astype(float)
        return (rgb[..., channel] - rgb.mean(-1)).mean()

    assert colour_share("a large red circle", 0) > colour_share("a large blue circle", 0)
    assert colour_share("a large blue circle", 2) > colour_share("a large red circle", 2)
