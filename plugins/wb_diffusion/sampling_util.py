"""Sampling helper the comparison tasks share: one image per seed in one batch, returned as uint8 pictures."""

from __future__ import annotations

import numpy as np
import torch

from workbench.api import to_uint8


def sample_seeds(pipe, seeds: list[int], steps: int, guidance: float, size: int = 0, **inputs) -> list[np.ndarray]:
    """One image per seed (a generator each, so an image depends on its seed only), for one prompt given as the
    pipeline takes it (``prompt=`` or ``prompt_embeds=``/``negative_prompt_embeds=``)."""
    side = size or pipe.unet.config.sample_size * pipe.vae_scale_factor
    generators = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    images = pipe(num_inference_steps=steps, guidance_scale=guidance, height=side, width=side, output_type="np",
                  num_images_per_prompt=len(seeds), generator=generators, **inputs).images
    return to_uint8(np.asarray(images).transpose(0, 3, 1, 2))
