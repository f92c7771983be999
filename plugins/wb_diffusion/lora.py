"""LoRA on a diffusers UNet through peft: add, save in diffusers format, load back, and merge into a plain UNet.

The adapter starts as the base exactly (gaussian A, zero B); ``unet.disable_adapters()`` gives the base again, which
is Diffusion-DPO's reference model for free. Saved files are ``pytorch_lora_weights.safetensors`` in a folder that
``pipe.load_lora_weights(folder)`` and the pipelines' architecture-checked ``load_lora`` (re-exported here) read,
with the adapter config as metadata (so ``alpha`` survives).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch

from wb_diffusion.pipelines import load_lora
from workbench.api import UserError

TARGETS = ("to_k", "to_q", "to_v", "to_out.0")
LORA_FILE = "pytorch_lora_weights.safetensors"
__all__ = ["LORA_FILE", "TARGETS", "add_lora", "continue_lora", "export_merged_unet", "load_lora", "lora_state_dict",
           "merged_unet", "save_lora"]


def add_lora(unet, rank: int = 4, alpha: float | None = None, targets: Sequence[str] = TARGETS) -> list:
    """Freeze ``unet`` and add a trainable LoRA (``alpha`` defaults to ``rank``); returns the LoRA parameters."""
    from peft import LoraConfig

    if rank < 1:
        raise UserError(f"lora_rank={rank}: must be at least 1")
    unet.requires_grad_(False)
    config = LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian", target_modules=list(targets))
    try:
        unet.add_adapter(config)
    except ValueError as exc:
        raise UserError(f"lora_targets={list(targets)}: {exc}") from None
    params = [p for p in unet.parameters() if p.requires_grad]
    if not params:
        raise UserError(f"lora_targets={list(targets)}: no module of the UNet matched")
    return params


def continue_lora(pipe, lora: str) -> list:
    """Freeze ``pipe.unet`` and make the saved LoRA ``lora`` its trainable adapter, with the rank, alpha and targets
    it was saved with: a later round of tuning starts where an earlier one ended. Returns the LoRA parameters."""
    pipe.unet.requires_grad_(False)
    load_lora(pipe, lora, adapter_name="default", param="init_lora")
    params = [p for name, p in pipe.unet.named_parameters() if "lora_" in name]
    if not params:
        raise UserError(f"init_lora={lora}: holds no LoRA weights for the UNet")
    for param in params:
        param.requires_grad_(True)
    return params


def lora_state_dict(unet) -> dict[str, torch.Tensor]:
    """The adapter's weights with diffusers' key names."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    return convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))


def save_lora(pipe, folder: Path) -> Path:
    """Write ``pipe.unet``'s adapter as ``folder/pytorch_lora_weights.safetensors`` (diffusers format)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metadata = pipe.unet.peft_config["default"].to_dict()
    type(pipe).save_lora_weights(folder, unet_lora_layers=lora_state_dict(pipe.unet),
                                 unet_lora_adapter_metadata=metadata)
    return folder / LORA_FILE


def merged_unet(unet):
    """A copy of ``unet`` with its adapter folded into the weights and the LoRA layers removed."""
    merged = copy.deepcopy(unet)
    merged.fuse_lora()
    merged.unload_lora()
    return merged


def export_merged_unet(unet, folder: Path) -> Path:
    """``save_pretrained`` of :func:`merged_unet`: a plain ``UNet2DConditionModel`` folder."""
    merged_unet(unet).save_pretrained(folder)
    return Path(folder)
