"""Region scoring: class embeddings of prompts, box x class cosines, softmax probabilities, top-k labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@torch.no_grad()
def class_embeddings(clip, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    """Normalised text embeddings ``[C, D]`` of the prompts."""
    return torch.cat([clip.encode_text(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)])


def model_temperature(clip) -> float:
    scale = getattr(clip.model, "logit_scale", None)
    return float(scale.detach().exp()) if scale is not None else 100.0


@dataclass
class BoxScores:
    """Scores of ``n`` boxes against ``C`` classes: cosines ``[n, C]``, softmax probabilities ``[n, C]``."""

    cosines: np.ndarray
    probs: np.ndarray

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, probs)`` of the ``k`` most probable classes per box, best first, ``[n, k]`` each."""
        k = min(k, self.probs.shape[1])
        order = np.argsort(-self.probs, axis=1, kind="stable")[:, :k]
        return order, np.take_along_axis(self.probs, order, axis=1)


def score_regions(regions: torch.Tensor, text: torch.Tensor, temperature: float) -> BoxScores:
    """Cosines of region embeddings ``[n, D]`` with class embeddings ``[C, D]`` (both normalised) and the softmax
    of ``temperature * cosine`` over the classes."""
    cosines = (regions @ text.T).float()
    probs = (temperature * cosines).softmax(dim=-1)
    return BoxScores(cosines=cosines.cpu().numpy(), probs=probs.cpu().numpy())
