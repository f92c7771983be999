"""LoRA on the tiny UNet: only adapter weights learn, init and disabled adapters are the base, files round-trip."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from wb_diffusion.lora import (  # noqa: E402
    LORA_FILE,
    add_lora,
    continue_lora,
    export_merged_unet,
    load_lora,
    save_lora,
)
from wb_diffusion.tiny import tiny_sd_pipeline, tiny_sdxl_pipeline  # noqa: E402
from workbench.api import UserError  # noqa: E402


def _inputs(seed=0, dim=32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 4, 16, 16, generator=g), torch.tensor([10, 700]), torch.randn(2, 7, dim, generator=g)


def _out(unet, inputs):
    with torch.no_grad():
        return unet(inputs[0], inputs[1], encoder_hidden_states=inputs[2]).sample


def _perturb(unet, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))


def test_lora_starts_as_the_base_and_only_its_weights_get_gradients():
    pipe = tiny_sd_pipeline(seed=0)
    inputs = _inputs()
    base = _out(pipe.unet, inputs)
    params = add_lora(pipe.unet, rank=4)
    assert sum(p.numel() for p in params) == 23_040
    torch.testing.assert_close(_out(pipe.unet, inputs), base, rtol=0, atol=0)
    pipe.unet(*inputs[:2], encoder_hidden_states=inputs[2]).sample.square().mean().backward()
    with_grad = {n for n, p in pipe.unet.named_parameters() if p.grad is not None}
    assert with_grad and all("lora_" in n for n in with_grad)
    assert all(p.grad is not None for p in params)
    _perturb(pipe.unet)
    assert not torch.equal(_out(pipe.unet, inputs), base)
    pipe.unet.disable_adapters()
    torch.testing.assert_close(_out(pipe.unet, inputs), base, rtol=0, atol=0)
    pipe.unet.enable_adapters()
    assert not torch.equal(_out(pipe.unet, inputs), base)


def test_saved_lora_loads_back_bit_identical_and_merges(tmp_path):
    pipe = tiny_sd_pipeline(seed=0)
    add_lora(pipe.unet, rank=4, alpha=8)
    _perturb(pipe.unet)
    inputs = _inputs()
    tuned = _out(pipe.unet, inputs)
    path = save_lora(pipe, tmp_path / "lora")
    assert path.name == LORA_FILE and path.is_file()
    fresh = tiny_sd_pipeline(seed=0)
    load_lora(fresh, tmp_path / "lora")
    torch.testing.assert_close(_out(fresh.unet, inputs), tuned, rtol=0, atol=0)
    from diffusers import UNet2DConditionModel

    merged = UNet2DConditionModel.from_pretrained(export_merged_unet(pipe.unet, tmp_path / "merged"))
    assert not any("lora" in k for k in merged.state_dict())
    torch.testing.assert_close(_out(merged, inputs), tuned, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(_out(pipe.unet, inputs), tuned, rtol=0, atol=0)


def test_a_continued_lora_starts_where_the_saved_one_ended_and_only_it_learns(tmp_path):
    """init_lora: the saved adapter comes back as the trainable one (its own rank and alpha), the model's output is
    the saved model's exactly, gradients reach only its weights, and saving it again writes the same tensors."""
    from safetensors.torch import load_file

    pipe = tiny_sd_pipeline(seed=0)
    add_lora(pipe.unet, rank=3, alpha=6)
    _perturb(pipe.unet)
    inputs = _inputs()
    saved = _out(pipe.unet, inputs)
    save_lora(pipe, tmp_path / "round1")
    fresh = tiny_sd_pipeline(seed=0)
    params = continue_lora(fresh, str(tmp_path / "round1"))
    assert sum(p.numel() for p in params) == sum(p.numel() for n, p in pipe.unet.named_parameters() if "lora_" in n)
    torch.testing.assert_close(_out(fresh.unet, inputs), saved, rtol=0, atol=0)
    fresh.unet(*inputs[:2], encoder_hidden_states=inputs[2]).sample.square().mean().backward()
    with_grad = {n for n, p in fresh.unet.named_parameters() if p.grad is not None}
    assert with_grad and all("lora_" in n for n in with_grad) and all(p.grad is not None for p in params)
    a = load_file(str(tmp_path / "round1" / LORA_FILE))
    b = load_file(str(save_lora(fresh, tmp_path / "again")))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(UserError, match="init_lora=.*nowhere: no such file or folder"):
        continue_lora(tiny_sd_pipeline(seed=0), str(tmp_path / "nowhere"))


def test_a_lora_for_another_architecture_is_refused(tmp_path):
    sdxl = tiny_sdxl_pipeline(seed=0)
    add_lora(sdxl.unet, rank=2)
    save_lora(sdxl, tmp_path / "xl")
    wrong = r"xl: not a LoRA for StableDiffusionPipeline .*lora.down.weight: shape \(2, 64\) vs base layer \(64, 32\)"
    with pytest.raises(UserError, match=wrong):
        load_lora(tiny_sd_pipeline(seed=0), tmp_path / "xl")
    with pytest.raises(UserError, match="no such file or folder"):
        load_lora(tiny_sd_pipeline(seed=0), tmp_path / "nothing")
    with pytest.raises(UserError, match="no module of the UNet matched|lora_targets"):
        add_lora(tiny_sd_pipeline(seed=0).unet, targets=["nothing_here"])
