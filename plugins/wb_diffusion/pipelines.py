"""Where a text-to-image pipeline comes from: one ``source`` string, the same for sampling and training.

``tiny-random`` / ``tiny-random-sdxl`` build the offline random components (:mod:`wb_diffusion.tiny`); a folder is
read as a diffusers pipeline folder (``model_index.json``) without touching the hub.
"""

from __future__ import annotations

from pathlib import Path

import torch

from workbench.api import UserError

BUILT_IN = ("tiny-random", "tiny-random-sdxl")


def load_pipeline(source: str, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """The diffusers pipeline named by ``source``, on ``device``, progress bars off."""
    from wb_diffusion import tiny

    if source == "tiny-random":
        pipe = tiny.tiny_sd_pipeline()
    elif source == "tiny-random-sdxl":
        pipe = tiny.tiny_sdxl_pipeline()
    elif Path(source).is_dir():
        if not (Path(source) / "model_index.json").is_file():
            raise UserError(f"model={source}: not a diffusers pipeline folder (no model_index.json)")
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained(source, local_files_only=True, torch_dtype=dtype)
    else:
        raise UserError(f"model={source!r}: expected one of {', '.join(BUILT_IN)} or a diffusers pipeline folder")
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device=device, dtype=dtype)


def is_sdxl(pipe) -> bool:
    """SDXL-style pipelines carry a second text encoder and the added text/time embedding."""
    return getattr(pipe, "text_encoder_2", None) is not None
