"""Tiny random Stable Diffusion components built from configs, offline (tests and smoke runs).

The sizes are those of the method notes (section 4): a 1.4 M-parameter UNet on 16x16 latents, a 0.7 M VAE with
scale factor 2 (32 px images), a 2-layer CLIP text model. The tokenizer is character-level, written on the fly as
``vocab.json`` + a header-only ``merges.txt``, so nothing touches the hub; pad = eos = ``<|endoftext|>`` as in SD.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import torch


def char_tokenizer(folder: Path | None = None):
    """A character-level ``CLIPTokenizer`` (every printable character, with and without ``</w>``)."""
    from transformers import CLIPTokenizer

    folder = Path(folder or tempfile.mkdtemp(prefix="wb-char-tok-"))
    folder.mkdir(parents=True, exist_ok=True)
    chars = [c for c in string.printable if not c.isspace() or c == " "]
    vocab: dict[str, int] = {}
    for token in ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]:
        vocab.setdefault(token, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def tiny_unet(cross_attention_dim: int = 32, sample_size: int = 16, channels: tuple[int, int] = (32, 64), **extra):
    """The notes' tiny UNet (``channels`` widens it); ``extra`` adds config keys (SDXL's added text/time embedding)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=tuple(channels), layers_per_block=2, sample_size=sample_size, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=8, **extra)


def tiny_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                         down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                         latent_channels=4)


def tiny_text_encoder(tokenizer, hidden_size: int = 32, with_projection: bool = False):
    """A 2-layer CLIP text model; ``with_projection`` gives SDXL's second encoder (pooled, projected output)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=37,
                            num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77,
                            projection_dim=hidden_size, bos_token_id=tokenizer.bos_token_id,
                            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def tiny_scheduler(prediction_type: str = "epsilon"):
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1, prediction_type=prediction_type)


def tiny_sd_pipeline(seed: int = 0, prediction_type: str = "epsilon"):
    """A random tiny ``StableDiffusionPipeline`` (32 px), deterministic in ``seed``."""
    from diffusers import StableDiffusionPipeline

    torch.manual_seed(seed)
    tokenizer = char_tokenizer()
    pipe = StableDiffusionPipeline(vae=tiny_vae(), text_encoder=tiny_text_encoder(tokenizer), tokenizer=tokenizer,
                                   unet=tiny_unet(), scheduler=tiny_scheduler(prediction_type), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_sdxl_pipeline(seed: int = 0, prediction_type: str = "epsilon"):
    """A random tiny ``StableDiffusionXLPipeline`` (32 px): two text encoders (states concatenated to 64 channels,
    the second's pooled projection) and the added text/time embedding (6 time ids x 8 + 32 pooled = 80)."""
    from diffusers import StableDiffusionXLPipeline

    torch.manual_seed(seed)
    tokenizer, tokenizer_2 = char_tokenizer(), char_tokenizer()
    unet = tiny_unet(cross_attention_dim=64, addition_embed_type="text_time", addition_time_embed_dim=8,
                     projection_class_embeddings_input_dim=80)
    pipe = StableDiffusionXLPipeline(
        vae=tiny_vae(), text_encoder=tiny_text_encoder(tokenizer), text_encoder_2=tiny_text_encoder(
            tokenizer_2, with_projection=True), tokenizer=tokenizer, tokenizer_2=tokenizer_2, unet=unet,
        scheduler=tiny_scheduler(prediction_type), force_zeros_for_empty_prompt=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe
