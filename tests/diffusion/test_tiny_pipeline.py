"""The tiny random Stable Diffusion pipeline builds offline and samples deterministically."""

import numpy as np
import pytest

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")


def test_tiny_pipeline_samples_the_same_image_for_the_same_seed():
    from wb_diffusion.tiny import tiny_sd_pipeline

    pipe = tiny_sd_pipeline(seed=0)
    assert 1_000_000 < sum(p.numel() for p in pipe.unet.parameters()) < 2_000_000

    def sample(seed):
        return pipe(["a red circle"], num_inference_steps=2, height=32, width=32, output_type="np",
                    generator=torch.Generator().manual_seed(seed)).images

    a, b, c = sample(0), sample(0), sample(1)
    assert a.shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_tiny_sdxl_pipeline_samples_with_two_text_encoders():
    from wb_diffusion.tiny import tiny_sdxl_pipeline

    pipe = tiny_sdxl_pipeline(seed=0)
    assert pipe.unet.config.addition_embed_type == "text_time"
    image = pipe(["a red circle"], num_inference_steps=2, height=32, width=32, output_type="np",
                 generator=torch.Generator().manual_seed(0)).images
    assert image.shape == (1, 32, 32, 3) and np.isfinite(image).all()


def test_a_saved_pipeline_folder_loads_back_identically(tmp_path):
    from wb_diffusion.pipelines import is_sdxl, load_pipeline

    pipe = load_pipeline("tiny-random")
    pipe.save_pretrained(tmp_path / "sd")
    again = load_pipeline(str(tmp_path / "sd"))
    for a, b in zip(pipe.unet.state_dict().values(), again.unet.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not is_sdxl(again) and is_sdxl(load_pipeline("tiny-random-sdxl"))


def test_a_folder_that_is_not_a_pipeline_is_named(tmp_path):
    from wb_diffusion.pipelines import load_pipeline
    from workbench.api import UserError

    with pytest.raises(UserError, match="no model_index.json"):
        load_pipeline(str(tmp_path))
