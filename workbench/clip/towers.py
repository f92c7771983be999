"""Inside the two CLIP towers: per-token text states, per-patch image tokens, attention probabilities.

open_clip's ``encode_text`` returns only the pooled (EOT) embedding and its attention blocks call
``nn.MultiheadAttention(need_weights=False)``, so attribution methods (CLIP4DM, Chefer relevance) need
the pieces here. Everything works on a plain open_clip ``CLIP`` and keeps the autograd graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TextStates:
    """Per-token text features of a batch.

    ``hidden``: ``[B, L, width]`` after ``ln_final``; ``projected``: ``[B, L, embed_dim]`` in the joint
    space (``hidden @ text_projection``); ``eot``: ``[B]`` EOT positions. ``projected[b, eot[b]]`` equals
    ``encode_text`` of row ``b``.
    """

    hidden: torch.Tensor
    projected: torch.Tensor
    eot: torch.Tensor

    @property
    def pooled(self) -> torch.Tensor:
        return self.projected[torch.arange(len(self.eot), device=self.eot.device), self.eot]


def trim_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Drop the all-padding columns after the longest EOT. With the causal mask this changes no output."""
    length = int(tokens.argmax(dim=-1).max()) + 1
    return tokens[:, :length]


def text_states(model: nn.Module, tokens: torch.Tensor) -> TextStates:
    """Run the text tower token by token. ``tokens`` may be shorter than the context (see :func:`trim_tokens`)."""
    length = tokens.shape[1]
    if length > model.positional_embedding.shape[0]:
        raise ValueError(f"{length} tokens exceed the text context of {model.positional_embedding.shape[0]}")
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:length].to(cast)
    mask = model.attn_mask[:length, :length] if model.attn_mask is not None else None
    x = model.ln_final(model.transformer(x, attn_mask=mask))
    proj = model.text_projection
    projected = proj(x) if isinstance(proj, nn.Linear) else x @ proj
    return TextStates(hidden=x, projected=projected, eot=tokens.argmax(dim=-1))


def encode_text_fast(model: nn.Module, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """``encode_text`` on trimmed tokens: the same numbers, a fraction of the work for short captions."""
    pooled = text_states(model, trim_tokens(tokens)).pooled
    return F.normalize(pooled, dim=-1) if normalize else pooled


def image_tokens(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pooled, patches)``: the image embedding ``[B, D]`` and per-patch joint-space tokens ``[B, N, D]``.

    Patch tokens come after ``ln_post`` and are projected with ``visual.proj`` (unnormalised), in
    row-major patch order: reshape to ``[B, H/p, W/p, D]`` for a map.
    """
    visual = model.visual
    previous = visual.output_tokens
    visual.output_tokens = True
    try:
        pooled, tokens = visual(images)
    finally:
        visual.output_tokens = previous
    if visual.proj is not None:
        tokens = tokens @ visual.proj
    return pooled, tokens


class _AttentionRecorder:
    """Replaces each block's ``attention`` by an explicit softmax(QK^T)V that keeps the probabilities."""

    def __init__(self) -> None:
        self.maps: list[torch.Tensor] = []

    def attention(self, block: nn.Module):
        mha: nn.MultiheadAttention = block.attn

        def explicit(q_x, k_x=None, v_x=None, attn_mask=None):
            if k_x is not None or v_x is not None:
                raise NotImplementedError("attention recording supports self-attention blocks only")
            batch, length, width = q_x.shape
            heads = mha.num_heads
            q, k, v = F.linear(q_x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
            q, k, v = (t.reshape(batch, length, heads, width // heads).transpose(1, 2) for t in (q, k, v))
            scores = (q * (width // heads) ** -0.5) @ k.transpose(-2, -1)
            if attn_mask is not None:
                scores = scores + attn_mask.to(scores.dtype)
            probs = scores.softmax(dim=-1)
            self.maps.append(probs)
            out = (probs @ v).transpose(1, 2).reshape(batch, length, width)
            return mha.out_proj(out)

        return explicit


@contextlib.contextmanager
def record_attention(transformer: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Within the block, every forward of ``transformer`` appends each layer's attention ``[B, H, L, L]``.

    Use ``model.transformer`` for the text tower and ``model.visual.transformer`` for the image tower. The
    tensors are the ones multiplied with V, so ``torch.autograd.grad(score, maps)`` gives ``dS/dA``. The
    outputs are those of the stock blocks (within float rounding).
    """
    recorder = _AttentionRecorder()
    blocks = list(transformer.resblocks)
    try:
        for block in blocks:
            block.attention = recorder.attention(block)
        yield recorder.maps
    finally:
        for block in blocks:
            block.__dict__.pop("attention", None)
