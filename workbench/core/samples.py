"""The data types sample worlds return, so a plugin can use another plugin's world without importing it.

``load_sample("digits")`` gives a :class:`LabelledImageSet` (ID train/test with labels, named OOD sets with their
near/far group); ``load_sample("shapes", ...)`` gives :class:`CaptionedScenes` (images with object boxes, captions
and one-word foils that name the foiled object). numpy only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LabelledImageSet:
    """Images ``(n, c, h, w)`` float32 in [0, 1]: labelled ID train/test splits and named OOD sets.

    ``groups[name]`` says whether OOD set ``name`` is ``near`` or ``far``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    ood: dict[str, np.ndarray] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    classes: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def to_uint8(images: np.ndarray) -> list[np.ndarray]:
    """``(n, c, h, w)`` floats in [0, 1] to uint8 pictures: ``h x w`` for one channel, ``h x w x 3`` otherwise."""
    pics = np.clip(np.asarray(images, np.float32), 0, 1) * 255
    return [p[0].astype(np.uint8) if p.shape[0] == 1 else p.transpose(1, 2, 0).astype(np.uint8) for p in pics]


class SceneObject(ABC):
    """One annotated object of a scene: a ``box`` ``(x0, y0, x1, y1)`` in pixels and a ``label`` phrase.

    A base without fields so a world's own object type (with colour, shape, ...) can subclass it.
    """

    box: tuple[float, float, float, float]

    @property
    @abstractmethod
    def label(self) -> str:
        """The object's phrase, e.g. ``small red star``."""


@dataclass(frozen=True)
class Foil:
    """The caption with one word swapped so that it is false: ``caption.split()[word_index]`` is ``new_word``.

    ``object_index`` is the object whose attribute the swapped word describes (None for a relation word).
    """

    kind: str
    caption: str
    word_index: int
    original_word: str
    new_word: str
    object_index: int | None = None


@dataclass
class CaptionedScene:
    """An RGB uint8 image with its annotated objects, a short and a long caption, and foils by kind."""

    image: np.ndarray
    objects: list[SceneObject]
    caption: str
    long_caption: str = ""
    foils: dict[str, Foil] = field(default_factory=dict)
    split: str = ""
    index: int = 0

    @property
    def boxes(self) -> np.ndarray:
        return np.array([o.box for o in self.objects], dtype=np.float32).reshape(-1, 4)

    @property
    def labels(self) -> list[str]:
        return [o.label for o in self.objects]

    def foiled_box(self, kind: str) -> tuple[float, float, float, float] | None:
        """The box of the object foil ``kind`` is about; None for relation foils or a missing kind."""
        foil = self.foils.get(kind)
        if foil is None or foil.object_index is None:
            return None
        return tuple(float(v) for v in self.objects[foil.object_index].box)


@dataclass
class CaptionedScenes:
    """A list of scenes with the world's vocabulary (e.g. ``{"colour": (...), "shape": (...)}``)."""

    scenes: list[CaptionedScene]
    vocabulary: dict[str, tuple[str, ...]] = field(default_factory=dict)
    foil_kinds: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.scenes)

    def __iter__(self):
        return iter(self.scenes)

    def __getitem__(self, i: int) -> CaptionedScene:
        return self.scenes[i]
