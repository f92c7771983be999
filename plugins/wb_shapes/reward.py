"""The shapes reward model: a whole-picture attribute classifier that scores how well a picture shows a caption.

It ranks text-to-image samples into preference pairs where the tiny CLIP cannot (on the tiny diffusion model's
soft samples the CLIP's cosine hardly changes with the drawn shape). It is kept apart from the shapes checker,
which judges the tuned models: another architecture (global pooling over the picture, no per-cell map), another
objective (which colours and shapes appear, how many objects) and another draw of the world (``data_seed`` 1 by
default, the checker's is 0). Both learn the world's ground truth, so they agree where a picture is clear.

The reward of a picture for a caption naming objects ``(colour, shape)`` is the mean over those objects of
``log p(colour present) + log p(shape present)``, plus ``log p(count = number named)``: a log-likelihood, 0 at
best, unbounded below.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wb_shapes.checker import COLOUR_NAMES, INPUT_SIZE, N_COLOURS, N_SHAPES, as_batch, weights_metadata
from wb_shapes.judge import MAX_OBJECTS, PromptSpec
from wb_shapes.world import SHAPES
from workbench.api import ModelCard, load_into, save_safetensors, zoo_weights

ZOO_ID = "shapes-reward"
RECIPE = "zoo-shapes-reward"
ARCHITECTURE = "AttributeReward"


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class AttributeReward(nn.Module):
    """Five conv blocks, global average pooling, one linear head: colour logits (present or not), shape logits
    (present or not) and the object count (1 to :data:`MAX_OBJECTS`)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.body = nn.Sequential(_block(3, width, 1), _block(width, width, 2), _block(width, 2 * width, 1),
                                  _block(2 * width, 2 * width, 2), _block(2 * width, 4 * width, 2),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, N_COLOURS + N_SHAPES + MAX_OBJECTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def log_likelihoods(self, images, specs: Sequence[PromptSpec]) -> torch.Tensor:
        """The reward of each picture for its spec (module docstring); ``images`` as the checker takes them."""
        x = as_batch(images)
        if x.shape[-1] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
        out = self(x.to(next(self.parameters()).device)).float().cpu()
        colour = F.logsigmoid(out[:, :N_COLOURS])
        shape = F.logsigmoid(out[:, N_COLOURS:N_COLOURS + N_SHAPES])
        count = F.log_softmax(out[:, N_COLOURS + N_SHAPES:], dim=1)
        rewards = []
        for i, spec in enumerate(specs):
            named = [colour[i, COLOUR_NAMES.index(c)] + shape[i, SHAPES.index(s)] for c, s in spec.objects]
            rewards.append(torch.stack(named).mean() + count[i, len(spec.objects) - 1])
        return torch.stack(rewards)

    @torch.no_grad()
    def score(self, images, caption: str) -> list[float]:
        """Rewards of pictures for one shapes-world caption (as ``diffusion.make-pairs`` ranks samples)."""
        return self.eval().log_likelihoods(images, [PromptSpec.parse(caption)] * len(images)).tolist()


def attribute_targets(objects_per_scene: Sequence[Sequence]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Colour and shape presence (multi-hot) and the count class of scenes given by their objects."""
    n = len(objects_per_scene)
    colour, shape = torch.zeros(n, N_COLOURS), torch.zeros(n, N_SHAPES)
    count = torch.zeros(n, dtype=torch.long)
    for i, objects in enumerate(objects_per_scene):
        for o in objects:
            colour[i, COLOUR_NAMES.index(o.colour)] = 1
            shape[i, SHAPES.index(o.shape)] = 1
        count[i] = len(objects) - 1
    return colour, shape, count


def reward_loss(logits: torch.Tensor, colour: torch.Tensor, shape: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Presence BCE summed over the colour and the shape logits, plus the count's cross-entropy."""
    return (F.binary_cross_entropy_with_logits(logits[:, :N_COLOURS], colour, reduction="sum") / len(logits)
            + F.binary_cross_entropy_with_logits(logits[:, N_COLOURS:N_COLOURS + N_SHAPES], shape,
                                                 reduction="sum") / len(logits)
            + F.cross_entropy(logits[:, N_COLOURS + N_SHAPES:], count))


def save_reward(model: AttributeReward, path: Path) -> None:
    save_safetensors(model.state_dict(), path, metadata={"architecture": ARCHITECTURE, "width": str(model.width)})


def load_reward(path: Path | str | None = None, device: str = "cpu") -> AttributeReward:
    """An AttributeReward from ``path`` (default: the zoo's ``shapes-reward``), in eval mode."""
    path = Path(path) if path else zoo_weights(ZOO_ID)
    meta = weights_metadata(path, ARCHITECTURE, article="an")
    model = AttributeReward(width=int(meta["width"]))
    load_into(model, path)
    return model.to(device).eval()


def load_card(card: ModelCard, weights: Path | str | None = None, device: str = "cpu") -> AttributeReward:
    """The card's loader: ``load_zoo_model("shapes-reward")``, or ``weights=`` a file of the same kind."""
    return load_reward(weights or card.weights_path, device)


def foil_preference(model: AttributeReward, images: np.ndarray, captions: Sequence[str],
                    foils: Sequence[str]) -> float:
    """Share of pictures whose reward for their own caption beats the reward for a foil caption."""
    with torch.no_grad():
        own = model.eval().log_likelihoods(images, [PromptSpec.parse(c) for c in captions])
        other = model.log_likelihoods(images, [PromptSpec.parse(c) for c in foils])
    return float((own > other).float().mean())
