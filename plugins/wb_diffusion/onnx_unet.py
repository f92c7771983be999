"""The UNet on ONNX Runtime inside an otherwise unchanged diffusers pipeline.

The UNet is exported through the host's inference engine (``ctx.inference``: cached, parity-checked export with a
dynamic batch axis, which classifier-free guidance doubles); :class:`OnnxUNet` then stands in for
``pipe.unet``, answering the pipeline's call with the session's output. Text encoder, VAE and scheduler stay in
torch: the UNet is where sampling spends its time.
"""

from __future__ import annotations

import numpy as np
import torch

INPUTS = ("sample", "timestep", "encoder_hidden_states")
OUTPUTS = ("noise_pred",)


class UNetCall(torch.nn.Module):
    """The UNet as a function of three tensors (timestep one per batch row), for export."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]


def example_inputs(pipe, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs of the UNet's shape: latents at the model's size, timesteps, full-length text states."""
    config = pipe.unet.config
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(batch, config.in_channels, config.sample_size, config.sample_size, generator=generator)
    states = torch.randn(batch, pipe.tokenizer.model_max_length, config.cross_attention_dim, generator=generator)
    return latents, torch.full((batch,), 500.0), states


class OnnxUNet(torch.nn.Module):
    """Stands in for ``pipe.unet``: same config, dtype and device (it keeps the torch UNet for those), the
    forward pass run by an ONNX Runtime session."""

    def __init__(self, unet, session):
        super().__init__()
        self.torch_unet = unet
        self.config = unet.config
        self.session = session

    @property
    def device(self) -> torch.device:
        return self.torch_unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.torch_unet.dtype

    def forward(self, sample, timestep, encoder_hidden_states=None, return_dict=False, **unused):
        batch = sample.shape[0]
        steps = np.full((batch,), float(torch.as_tensor(timestep).reshape(-1)[0]), dtype=np.float32)
        (out,) = self.session(sample.detach().cpu().float().numpy(), steps,
                              encoder_hidden_states.detach().cpu().float().numpy())
        out = torch.from_numpy(out).to(sample.device, sample.dtype)
        return (out,) if not return_dict else type("UNetOutput", (), {"sample": out})()


def use_onnx_unet(pipe, ctx) -> str:
    """Put the UNet of ``pipe`` on ONNX Runtime (export cached by weights); returns the session's description,
    which includes the export's largest |onnx - torch|."""
    if getattr(pipe.unet.config, "addition_embed_type", None):
        from workbench.api import UserError

        raise UserError("backend=onnx: the UNet has added conditioning (SDXL); sample it with a torch backend")
    session = ctx.inference(UNetCall(pipe.unet).eval(), example_inputs(pipe), engine="onnx", input_names=INPUTS,
                            output_names=OUTPUTS, check_batch_sizes=(1, 2))
    pipe.unet = OnnxUNet(pipe.unet, session)
    return session.describe()
