"""ONNX export of a CLIP's image and text encoders, each checked against torch at several batch sizes.

ONNX serves embeddings only (per-patch and per-token included); gradient methods stay in torch.
Inputs: ``pixels`` ``[B, 3, S, S]`` float32 (already preprocessed) and ``tokens`` ``[B, context]`` int64.
The dense encoder (value-path map, :mod:`workbench.clip.dense`) takes ``pixels`` ``[B, 3, h*ph, w*pw]`` at one
token grid per export (the positional embeddings are interpolated for that grid when it is exported).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from workbench.clip.dense import dense_features
from workbench.clip.towers import image_tokens
from workbench.core.onnx_export import ExportReport, export_onnx

IMAGE_OUTPUTS = ("image_embeds", "patch_tokens")
TEXT_OUTPUTS = ("text_embeds", "token_states")
DENSE_OUTPUTS = ("dense",)
DENSE_EXPORTER = "torchscript"  # same graph and parity as dynamo (2e-7 on the tiny CLIP), exported ~10x faster


class ImageEncoder(nn.Module):
    """``pixels -> (image_embeds [B, D], patch_tokens [B, N, D])``, unnormalised like ``encode_image``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return image_tokens(self.model, pixels)


class DenseEncoder(nn.Module):
    """``pixels -> dense [B, D, h, w]``: the L2-normalised value-path map of :func:`dense_features`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return dense_features(self.model, pixels)


class TextEncoder(nn.Module):
    """``tokens -> (text_embeds [B, D], token_states [B, L, D])``, unnormalised like ``encode_text``.

    The EOT position is found with an int32 argmax (ONNX Runtime's ArgMax lacks int64 on some builds).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.model
        x = m.token_embedding(tokens) + m.positional_embedding
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask))
        states = x @ m.text_projection
        eot = tokens.to(torch.int32).argmax(dim=-1)
        pooled = states[torch.arange(states.shape[0]), eot]
        return pooled, states


def export_clip_onnx(clip, folder: Path, check_batch_sizes: tuple[int, ...] = (1, 2, 5),
                     tolerance: float | None = None, exporter: str = "dynamo",
                     names: tuple[str, str] = ("image_encoder.onnx", "text_encoder.onnx")) -> dict[str, ExportReport]:
    """Write the image and text encoders to ``folder / names[i]``; raises ``ExportError`` on a mismatch.

    ``clip`` is a :class:`workbench.clip.LoadedClip`; the reports give the largest |onnx - torch| per output.
    ``exporter`` is ``dynamo`` (torch's default) or ``torchscript`` (the legacy exporter, several times faster).
    """
    folder.mkdir(parents=True, exist_ok=True)
    model = clip.model.eval()
    size = clip.image_size
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    tokens = clip.tokenize(["a small red circle above a large blue square", "a green star"]).cpu()
    check = {"check_batch_sizes": check_batch_sizes, "tolerance": tolerance, "exporter": exporter}
    return {
        "image": export_onnx(ImageEncoder(model), (pixels,), folder / names[0], ("pixels",),
                             IMAGE_OUTPUTS, **check),
        "text": export_onnx(TextEncoder(model), (tokens,), folder / names[1], ("tokens",),
                            TEXT_OUTPUTS, **check),
    }


def encoder_sessions(clip, inference, onnx_dir: Path | None = None,
                     names: tuple[str, str] = ("image_encoder.onnx", "text_encoder.onnx")):
    """``(image, text)`` inference sessions of a CLIP's encoders from ``inference`` (a run's ``ctx.inference``):
    torch, or ONNX Runtime on the cached, parity-checked exports (or on the files in ``onnx_dir``)."""
    model = clip.model.eval()
    size = clip.image_size
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    tokens = clip.tokenize(["a small red circle above a large blue square", "a green star"]).cpu()
    files = (onnx_dir / names[0], onnx_dir / names[1]) if onnx_dir else (None, None)
    image = inference(ImageEncoder(model), (pixels,), input_names=("pixels",), output_names=IMAGE_OUTPUTS,
                      check_batch_sizes=(1, 2, 5), onnx_file=files[0])
    text = inference(TextEncoder(model), (tokens,), input_names=("tokens",), output_names=TEXT_OUTPUTS,
                     check_batch_sizes=(1, 2, 5), onnx_file=files[1])
    return image, text


def export_dense_onnx(clip, path: Path, pixel_size: tuple[int, int] | None = None,
                      check_batch_sizes: tuple[int, ...] = (1, 2, 5)) -> ExportReport:
    """Write the dense encoder for ``pixel_size = (H, W)`` preprocessed pixels (default: the model's image size)
    to ``path`` with a dynamic batch axis; raises ``ExportError`` when ONNX Runtime disagrees with torch."""
    size = pixel_size or (clip.image_size, clip.image_size)
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    return export_onnx(DenseEncoder(clip.model.eval()), (pixels,), Path(path), ("pixels",), DENSE_OUTPUTS,
                       check_batch_sizes=check_batch_sizes, exporter=DENSE_EXPORTER)


def dense_session(clip, inference, pixel_size: tuple[int, int], onnx_file: Path | None = None):
    """The dense encoder for preprocessed pixels of ``pixel_size = (H, W)`` (whole patches; see
    ``LoadedClip.dense_pixels``) on a run's engine: torch, or ONNX Runtime on the cached, parity-checked export
    (dynamic batch) or on ``onnx_file``. The session's ``export`` report holds the largest |onnx - torch|."""
    pixels = torch.randn(2, 3, *pixel_size, generator=torch.Generator().manual_seed(0))
    return inference(DenseEncoder(clip.model.eval()), (pixels,), input_names=("pixels",),
                     output_names=DENSE_OUTPUTS, check_batch_sizes=(1, 2, 5), onnx_file=onnx_file,
                     exporter=DENSE_EXPORTER)
