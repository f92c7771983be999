"""Judging text-to-image samples with the shapes checker: does a picture show what its prompt asked for?

A prompt is a :class:`PromptSpec` (its caption, the ``(colour, shape)`` of each object it names, their count).
A picture *follows* its prompt when the checker reads the right count and finds every named colour-shape
combination; the parts (count, colours, shapes, combinations) are reported too, so a study can say which part a
model gets wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from wb_shapes.checker import MapReading, ShapesChecker, as_batch, combo_index, load_model, read_map
from wb_shapes.world import COLOURS, SHAPES, SPLITS, Scene, make_scene
from workbench.api import UserError

THRESHOLD = 0.5
MAX_OBJECTS = 4


@dataclass(frozen=True)
class PromptSpec:
    """A prompt with its ground truth: ``objects`` are the ``(colour, shape)`` pairs it names, in caption order.

    ``scene`` holds :func:`~wb_shapes.world.make_scene`'s arguments ``(seed, split, index, image_size, min_objects,
    max_objects)`` when the prompt is a shapes-world scene's caption (:func:`render_prompts` draws it); ``None`` for
    a prompt written by hand.
    """

    caption: str
    objects: tuple[tuple[str, str], ...]
    long_caption: str = ""
    scene: tuple[int, str, int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.objects) <= MAX_OBJECTS:
            raise UserError(f"prompt {self.caption!r}: names {len(self.objects)} objects; the world draws 1 to "
                            f"{MAX_OBJECTS}")
        for colour, shape in self.objects:
            combo_index(colour, shape)

    @property
    def count(self) -> int:
        return len(self.objects)

    @classmethod
    def parse(cls, caption: str) -> PromptSpec:
        """The spec of a short caption (``a small red star above a blue circle``): every colour word followed by
        a shape word is one object. Long captions name objects more than once: build those specs from scenes."""
        words = caption.lower().split()
        objects = tuple((a, b) for a, b in zip(words, words[1:]) if a in COLOURS and b in SHAPES)
        return cls(caption=caption, objects=objects)

    @classmethod
    def from_scene(cls, scene: Scene, seed: int, image_size: int, min_objects: int = 1, max_objects: int = 4
                   ) -> PromptSpec:
        """The spec of a drawn scene's caption (the arguments must be the ones that drew it: positions are
        drawn at ``image_size``, so a scene's objects can differ between sizes)."""
        return cls(caption=scene.caption, objects=tuple((o.colour, o.shape) for o in scene.objects),
                   long_caption=scene.long_caption,
                   scene=(seed, scene.split, scene.index, image_size, min_objects, max_objects))


def heldout_prompts(n: int, seed: int = 0, split: str = "test", image_size: int = 32, min_objects: int = 1,
                    max_objects: int = 4, start: int = 0) -> list[PromptSpec]:
    """Prompts of scenes ``start .. start + n - 1`` of a held-out split (``test``; ``novel`` for held-out
    colour-shape combinations) drawn at ``image_size``: deterministic in ``seed``, never seen by a model trained
    on the train split."""
    if split not in SPLITS or split == "train":
        raise UserError(f"split: held-out prompts come from 'test' or 'novel', got {split!r}")
    if n < 1:
        raise UserError(f"n: need at least one prompt, got {n}")
    return [PromptSpec.from_scene(make_scene(seed, split, i, image_size, min_objects, max_objects), seed, image_size,
                                  min_objects, max_objects) for i in range(start, start + n)]


def render_prompts(specs: Sequence[PromptSpec], image_size: int | None = None) -> np.ndarray:
    """The world's own drawing of each scene prompt, uint8 ``(N, S, S, 3)``: at the size the prompt was drawn
    at, resized to ``image_size`` when given (the ground truth is that of the drawn size)."""
    missing = [s.caption for s in specs if s.scene is None]
    if missing:
        raise UserError(f"render_prompts: {missing[0]!r} is not a shapes-world scene's prompt (no scene to draw)")
    images = [make_scene(*s.scene).image for s in specs]
    if image_size:
        images = [cv2.resize(im, (image_size, image_size), interpolation=cv2.INTER_AREA) for im in images]
    return np.stack(images)


@dataclass
class JudgeResult:
    """Per-picture verdicts; ``object_probs[i][j]`` is the probability that object ``j`` of prompt ``i`` is
    present (to judge objects a prompt describes late)."""

    follows: np.ndarray
    count_ok: np.ndarray
    colours_ok: np.ndarray
    shapes_ok: np.ndarray
    combos_ok: np.ndarray
    predicted_count: np.ndarray
    object_probs: list[np.ndarray] = field(default_factory=list)

    def rate(self) -> dict[str, float]:
        """Share of pictures that follow their prompt, and of each part."""
        return {name: float(np.mean(getattr(self, name)))
                for name in ("follows", "count_ok", "colours_ok", "shapes_ok", "combos_ok")}


class ShapesJudge:
    """The checker network on a device, with the reading and judging steps."""

    def __init__(self, model: ShapesChecker, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @torch.no_grad()
    def read(self, images, batch_size: int = 512) -> MapReading:
        """Read uint8 pictures (``(N, H, W, 3)`` array or list of ``(H, W, 3)``), any size (resized)."""
        x = as_batch(images)
        logits = torch.cat([self.model(x[i:i + batch_size].to(self.device)).float().cpu()
                            for i in range(0, len(x), batch_size)])
        return read_map(logits)

    def presence(self, images, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Probability that picture ``i`` shows ``pairs[i]`` (a ``(colour, shape)``), e.g. a late-described object."""
        reading = self.read(images)
        if len(pairs) != len(reading.count):
            raise UserError(f"presence: {len(reading.count)} images but {len(pairs)} (colour, shape) pairs")
        return np.array([reading.combo_probs[i][combo_index(c, s)] for i, (c, s) in enumerate(pairs)])

    def judge(self, images, specs: Sequence[PromptSpec]) -> JudgeResult:
        """Does picture ``i`` follow ``specs[i]``: right count and every named colour-shape present."""
        specs = list(specs)
        n_images = len(images)
        if n_images != len(specs):
            raise UserError(f"judge: {n_images} images but {len(specs)} prompt specs; give one spec per image")
        reading = self.read(images)
        verdicts: dict[str, list[bool]] = {k: [] for k in ("count_ok", "colours_ok", "shapes_ok", "combos_ok")}
        object_probs = []
        for i, spec in enumerate(specs):
            index = [combo_index(c, s) for c, s in spec.objects]
            probs = np.array([reading.combo_probs[i][k] for k in index])
            object_probs.append(probs)
            verdicts["count_ok"].append(int(reading.count[i]) == spec.count)
            verdicts["colours_ok"].append(all(reading.colour_probs[i, c] > THRESHOLD for c, _ in index))
            verdicts["shapes_ok"].append(all(reading.shape_probs[i, s] > THRESHOLD for _, s in index))
            verdicts["combos_ok"].append(bool((probs > THRESHOLD).all()))
        parts = {k: np.array(v) for k, v in verdicts.items()}
        return JudgeResult(follows=parts["count_ok"] & parts["combos_ok"], predicted_count=reading.count,
                           object_probs=object_probs, **parts)


def load_checker(device: str = "cpu", weights: str = "") -> ShapesJudge:
    """The zoo's shapes checker (or ``weights``, a ShapesChecker safetensors file) ready to judge on ``device``."""
    return ShapesJudge(load_model(weights or None), device)


def judge(images, specs: Sequence[PromptSpec], checker: ShapesJudge | None = None) -> JudgeResult:
    """Judge pictures against their prompts with ``checker`` (default: the zoo checker on the CPU)."""
    return (checker or load_checker()).judge(images, specs)
