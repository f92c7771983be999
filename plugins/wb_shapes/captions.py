"""Training captions: the scene's caption in varied surface forms, with a foil changed the same way."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from wb_shapes.world import SIZES, Scene

PREFIXES = ("", "a photo of ", "a photo depicts ", "an image of ")


class TrainingText(NamedTuple):
    """A scene's training caption, its one-word foil in the same surface form, and ``apply`` for that form."""

    caption: str
    foil: str
    long: bool
    prefix: str
    drop_size: bool

    def short_form(self, caption: str) -> str:
        """A short caption with this prefix and size dropping."""
        return self.prefix + " ".join(w for w in caption.split() if not (self.drop_size and w in SIZES))

    def apply(self, scene: Scene) -> str:
        """``scene``'s caption in this surface form (its long caption when this one is long)."""
        return scene.long_caption if self.long else self.short_form(scene.caption)


def training_pair(scene: Scene, rng: np.random.Generator, drop_size_fraction: float,
                  long_fraction: float, shape_foil_share: float = 0.0, force_shape_foil: bool = False
                  ) -> TrainingText:
    """The training caption and foil of one scene.

    The caption is the long caption (share ``long_fraction``) or the short one with a random prefix and,
    for a share ``drop_size_fraction``, without size words; the foil (one of the scene's foils, never a
    size foil when sizes are dropped; the shape foil with probability at least ``shape_foil_share``, always
    with ``force_shape_foil``) gets the same prefix and dropping, so it stays a one-word change.
    """
    drop = rng.random() < drop_size_fraction
    use_long = rng.random() < long_fraction
    kinds = [k for k in scene.foils if not (drop and k == "size")]
    if force_shape_foil or (shape_foil_share and rng.random() < shape_foil_share):
        foil = scene.foils["shape"]
    else:
        foil = scene.foils[kinds[int(rng.integers(len(kinds)))]]
    prefix = PREFIXES[int(rng.integers(len(PREFIXES)))]
    form = TrainingText("", "", use_long, prefix, drop)
    return form._replace(caption=form.apply(scene), foil=form.short_form(foil.caption))
