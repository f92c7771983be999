"""Publishing a diffusers folder into the zoo keeps its sub-folders and stores the weights as float16."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


def test_a_published_pipeline_folder_keeps_its_layout_in_float16(tmp_path, monkeypatch):
    import logging

    from safetensors.torch import load_file

    from wb_diffusion.pipelines import load_pipeline
    from wb_diffusion.zoo_files import publish_folder
    from workbench.api import RunContext

    monkeypatch.setenv("WORKBENCH_ZOO", str(tmp_path / "zoo"))
    pipe = load_pipeline("tiny-random")
    pipe.save_pretrained(tmp_path / "sd")
    ctx = RunContext(run_dir=tmp_path / "run", seed=0, engine="torch", device="cpu", logger=logging.getLogger("t"))
    folder = publish_folder(ctx, "tiny-test-sd", tmp_path / "sd", weights="unet/diffusion_pytorch_model.safetensors",
                            title="t", architecture="a", recipe="r", data="d",
                            loader="wb_diffusion.pipelines:load_card")
    stored = load_file(folder / "unet" / "diffusion_pytorch_model.safetensors")
    assert all(v.dtype == torch.float16 for v in stored.values())
    again = load_pipeline(str(folder))
    assert again.unet.dtype == torch.float32 and (folder / "card.json").is_file()
    for k, v in pipe.unet.state_dict().items():
        assert torch.allclose(again.unet.state_dict()[k], v.half().float())
