"""Loading text-to-image pipelines the ways users have them: folders, single files, LoRAs; bad input named."""

import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    from wb_diffusion.tiny import tiny_sd_pipeline

    folder = tmp_path_factory.mktemp("pipes") / "sd"
    tiny_sd_pipeline(seed=0).save_pretrained(folder)
    return folder


def _lora_file(pipe, folder):
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                                     target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in pipe.unet.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    type(pipe).save_lora_weights(folder, unet_lora_layers=layers)
    return folder / "pytorch_lora_weights.safetensors"


def test_a_folder_missing_a_component_names_it(sd_folder, tmp_path):
    from wb_diffusion.pipelines import load_pipeline
    from workbench.api import UserError

    broken = tmp_path / "broken"
    shutil.copytree(sd_folder, broken)
    shutil.rmtree(broken / "unet")
    with pytest.raises(UserError, match="unet/"):
        load_pipeline(str(broken))


def test_a_unet_checkpoint_file_loads_with_the_configs_of_a_folder(sd_folder, tmp_path):
    from safetensors.torch import save_file

    from wb_diffusion.pipelines import load_pipeline
    from workbench.api import UserError

    pipe = load_pipeline(str(sd_folder))
    with torch.no_grad():
        tuned = {k: (v + 0.01).contiguous() for k, v in pipe.unet.state_dict().items()}
    save_file(tuned, tmp_path / "unet.safetensors")
    loaded = load_pipeline(str(tmp_path / "unet.safetensors"), config=str(sd_folder))
    for k, v in loaded.unet.state_dict().items():
        assert torch.equal(v, tuned[k]), k
    assert torch.equal(loaded.text_encoder.get_input_embeddings().weight,
                       pipe.text_encoder.get_input_embeddings().weight)
    with pytest.raises(UserError, match="needs config="):
        load_pipeline(str(tmp_path / "unet.safetensors"))


def test_a_lora_loads_and_changes_the_unet_output(sd_folder, tmp_path):
    from wb_diffusion.pipelines import load_pipeline

    lora = _lora_file(load_pipeline(str(sd_folder)), tmp_path)
    base, tuned = load_pipeline(str(sd_folder)), load_pipeline(str(sd_folder), lora=str(lora))
    x, t, c = torch.randn(1, 4, 16, 16), torch.tensor([500]), torch.randn(1, 77, 32)
    with torch.no_grad():
        assert (base.unet(x, t, c).sample - tuned.unet(x, t, c).sample).abs().max() > 1e-4


def test_a_lora_for_another_architecture_is_refused_with_its_shapes(sd_folder, tmp_path):
    from wb_diffusion.pipelines import load_pipeline
    from workbench.api import UserError

    lora = _lora_file(load_pipeline("tiny-random-sdxl"), tmp_path)
    wrong = r"not a LoRA for StableDiffusion.*attn2\.to_k\.lora\.down\.weight: shape \(4, 64\)"
    with pytest.raises(UserError, match=wrong):
        load_pipeline(str(sd_folder), lora=str(lora))


@pytest.mark.parametrize("source", ["no-such-model", "/no/such/file.safetensors", "org/model-but-offline"])
def test_a_bad_source_is_a_clear_error(source, monkeypatch):
    from wb_diffusion.pipelines import load_pipeline
    from workbench.api import UserError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="model="):
        load_pipeline(source)


def test_sdxl_goes_through_the_same_folder_and_single_file_path(tmp_path):
    from safetensors.torch import save_file

    from wb_diffusion.pipelines import is_sdxl, load_pipeline

    load_pipeline("tiny-random-sdxl").save_pretrained(tmp_path / "sdxl")
    pipe = load_pipeline(str(tmp_path / "sdxl"))
    assert is_sdxl(pipe)
    tuned = {k: (v - 0.01).contiguous() for k, v in pipe.unet.state_dict().items()}
    save_file(tuned, tmp_path / "unet.safetensors")
    loaded = load_pipeline(str(tmp_path / "unet.safetensors"), config=str(tmp_path / "sdxl"))
    assert is_sdxl(loaded) and all(torch.equal(v, tuned[k]) for k, v in loaded.unet.state_dict().items())
