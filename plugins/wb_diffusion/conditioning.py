"""Text conditioning for training a UNet, the same way for SD 1.x/2.x and SDXL pipelines.

SD gives the text encoder's last hidden states. SDXL gives both encoders' penultimate states side by side, the
second encoder's pooled projection and the added time ids ``original size + crop top-left + target size`` (what
the UNet's added text/time embedding expects). The encoders are frozen: everything is computed without gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from wb_diffusion.pipelines import is_sdxl


@dataclass
class TextConditioning:
    """What the UNet takes besides the noisy latents and the timestep, for a batch of captions."""

    states: torch.Tensor
    pooled: torch.Tensor | None = None
    time_ids: torch.Tensor | None = None

    def repeat(self, times: int) -> TextConditioning:
        """The batch stacked ``times`` times (chosen and rejected halves share their captions)."""
        def rep(t):
            return None if t is None else t.repeat(times, *[1] * (t.ndim - 1))

        return TextConditioning(rep(self.states), rep(self.pooled), rep(self.time_ids))

    def unet_kwargs(self) -> dict:
        """Keyword arguments of ``UNet2DConditionModel.forward``."""
        kwargs = {"encoder_hidden_states": self.states}
        if self.pooled is not None:
            kwargs["added_cond_kwargs"] = {"text_embeds": self.pooled, "time_ids": self.time_ids}
        return kwargs


def sdxl_time_ids(original_sizes: Sequence[tuple[int, int]], target_size: tuple[int, int],
                  crops_top_left: Sequence[tuple[int, int]] | None = None) -> torch.Tensor:
    """SDXL's micro-conditioning per sample: ``(orig_h, orig_w, crop_top, crop_left, target_h, target_w)``."""
    crops = crops_top_left or [(0, 0)] * len(original_sizes)
    return torch.tensor([[*orig, *crop, *target_size] for orig, crop in zip(original_sizes, crops)],
                        dtype=torch.float32)


@torch.no_grad()
def encode_captions(pipe, captions: Sequence[str], target_size: tuple[int, int] | None = None,
                    original_sizes: Sequence[tuple[int, int]] | None = None,
                    crops_top_left: Sequence[tuple[int, int]] | None = None) -> TextConditioning:
    """Conditioning of ``captions`` on the UNet's device and dtype; sizes matter for SDXL only (default: the
    UNet's native resolution, uncropped)."""
    device, dtype = pipe.unet.device, pipe.unet.dtype
    if not is_sdxl(pipe):
        states, _ = pipe.encode_prompt(list(captions), device, 1, do_classifier_free_guidance=False)
        return TextConditioning(states.to(dtype))
    states, _, pooled, _ = pipe.encode_prompt(list(captions), device=device, num_images_per_prompt=1,
                                              do_classifier_free_guidance=False)
    native = pipe.unet.config.sample_size * pipe.vae_scale_factor
    target = tuple(target_size or (native, native))
    time_ids = sdxl_time_ids(original_sizes or [target] * len(captions), target, crops_top_left)
    return TextConditioning(states.to(dtype), pooled.to(dtype), time_ids.to(device=device, dtype=dtype))
