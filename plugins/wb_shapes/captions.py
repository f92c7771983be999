"""Training captions: the scene's caption in varied surface forms, with a foil changed the same way."""

from __future__ import annotations

import numpy as np

from wb_shapes.world import SIZES, Scene

PREFIXES = ("", "a photo of ", "a photo depicts ", "an image of ")


def training_pair(scene: Scene, rng: np.random.Generator, drop_size_fraction: float,
                  long_fraction: float, shape_foil_share: float = 0.0) -> tuple[str, str]:
    """``(caption, foil)`` for one scene.

    The caption is the long caption (share ``long_fraction``) or the short one with a random prefix and,
    for a share ``drop_size_fraction``, without size words; the foil (one of the scene's foils, never a
    size foil when sizes are dropped; the shape foil with probability at least ``shape_foil_share``) gets
    the same prefix and dropping, so it stays a one-word change.
    """
    drop = rng.random() < drop_size_fraction
    use_long = rng.random() < long_fraction
    kinds = [k for k in scene.foils if not (drop and k == "size")]
    if shape_foil_share and rng.random() < shape_foil_share:
        foil = scene.foils["shape"]
    else:
        foil = scene.foils[kinds[int(rng.integers(len(kinds)))]]
    prefix = PREFIXES[int(rng.integers(len(PREFIXES)))]

    def form(text: str) -> str:
        words = [w for w in text.split() if not (drop and w in SIZES)]
        return prefix + " ".join(words)

    return (scene.long_caption if use_long else form(scene.caption)), form(foil.caption)
