"""LongAlign's preference decomposition: a CLIP-style score split into a text-relevant and a text-irrelevant part.

Text embeddings share a common direction ``V`` (the normalised mean text embedding) on which every prompt has a
large, nearly constant projection ``eta(p) = <f_T, V>``. Writing ``f_T = eta V + (f_T - eta V)`` splits the score
``<f_I, f_T>`` into ``eta <f_I, V>`` — which rewards an image whatever the prompt says and drives reward hacking —
and ``<f_I, f_T - eta V>``. The reweighted score keeps the first with weight ``omega``:
``S_omega = <f_I, f_T - (1 - omega) eta V>``; ``omega = 1`` is the plain score. As in the reference, ``V`` is the
batch's mean text direction unless one is given, and the temperature is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ScoreSplit:
    """Per image: the reweighted ``score``, its ``relevant`` and ``irrelevant`` parts (``score = relevant + omega
    * irrelevant``), the text's projection ``eta`` and the ``raw`` score ``relevant + irrelevant``."""

    score: torch.Tensor
    relevant: torch.Tensor
    irrelevant: torch.Tensor
    eta: torch.Tensor
    raw: torch.Tensor
    direction: torch.Tensor


def shared_direction(text: torch.Tensor) -> torch.Tensor:
    """``V``: the normalised mean of the unit text embeddings."""
    return F.normalize(F.normalize(text, dim=-1).mean(dim=0), dim=-1)


def split_score(image: torch.Tensor, text: torch.Tensor, omega: float = 0.3,
                direction: torch.Tensor | None = None) -> ScoreSplit:
    """The decomposition for matching rows of ``image`` and ``text`` embeddings (normalised here)."""
    f_i, f_t = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    v = shared_direction(text) if direction is None else F.normalize(direction, dim=-1)
    eta = f_t @ v
    irrelevant = eta * (f_i @ v)
    raw = (f_i * f_t).sum(dim=-1)
    relevant = raw - irrelevant
    return ScoreSplit(relevant + omega * irrelevant, relevant, irrelevant, eta, raw, v)


def segment_text_embedding(encode: Callable[[list[str]], torch.Tensor], segments: Sequence[str]) -> torch.Tensor:
    """Denscore's caption embedding: the mean of the unit segment embeddings, not renormalised."""
    return F.normalize(encode(list(segments)), dim=-1).mean(dim=0)
