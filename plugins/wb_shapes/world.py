"""The shapes world: captioned scenes of coloured shapes with exact ground truth, drawn with OpenCV.

Every scene is a pure function of ``(seed, split, index)``: the same call always draws the same pixels,
boxes and captions, and the splits draw from disjoint seed streams. Some colour-shape combinations
(:data:`HELDOUT_COMBOS`) never appear in the ``train`` or ``test`` splits; the ``novel`` split puts one in
every scene, to measure compositional generalisation.

Captions are lower case, space separated, without punctuation, so a word index is an index into
``caption.split()``. A foil is the short caption with exactly one word swapped for a word of the same
kind that makes it false: a colour or shape not present in the scene, the other size, or the opposite
relation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from workbench.api import CaptionedScene, CaptionedScenes, Foil, SceneObject

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 30, 30), "orange": (255, 140, 0), "yellow": (245, 230, 40), "green": (30, 180, 50),
    "cyan": (40, 220, 230), "blue": (40, 70, 240), "purple": (150, 50, 210), "pink": (255, 120, 190),
    "white": (245, 245, 245), "brown": (130, 80, 30),
}
SHAPES = ("circle", "square", "triangle", "star", "hexagon", "diamond", "cross")
SIZES: dict[str, float] = {"small": 0.085, "large": 0.15}
RELATIONS = ("above", "below", "left", "right")
OPPOSITE = {"above": "below", "below": "above", "left": "right", "right": "left"}
HELDOUT_COMBOS: frozenset[tuple[str, str]] = frozenset({
    ("red", "star"), ("blue", "triangle"), ("green", "hexagon"), ("yellow", "circle"),
    ("purple", "square"), ("orange", "cross"), ("pink", "diamond"),
})
SPLITS = ("train", "test", "novel")
FoilKind = Literal["colour", "shape", "size", "relation"]
FOIL_KINDS: tuple[str, ...] = ("colour", "shape", "size", "relation")
_SPLIT_STREAM = {"train": 0, "test": 1, "novel": 2}
_BACKGROUNDS = ("plain", "noise", "stripes", "checker")


@dataclass(frozen=True)
class ShapeObject(SceneObject):
    """One drawn object: its words, centre ``(x, y)`` and box ``(x0, y0, x1, y1)`` in pixels."""

    colour: str
    shape: str
    size: str
    centre: tuple[float, float]
    box: tuple[float, float, float, float]

    @property
    def phrase(self) -> str:
        return f"{self.size} {self.colour} {self.shape}"

    @property
    def label(self) -> str:
        return self.phrase


@dataclass
class Scene(CaptionedScene):
    """A shapes-world scene: the host's captioned scene (image, objects, captions, foils naming the foiled
    object) plus its background and the relation word of its short caption."""

    background: str = ""
    relation: str | None = None

    @property
    def combos(self) -> set[tuple[str, str]]:
        return {(o.colour, o.shape) for o in self.objects}


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one scene; split streams never overlap."""
    if split not in _SPLIT_STREAM:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_STREAM[split], index]))


def _shape_points(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    def ring(n: int, radii: list[float], offset: float) -> np.ndarray:
        t = offset + angle + np.arange(n) * 2 * np.pi / n
        rr = np.resize(np.array(radii), n)
        return np.stack([cx + rr * np.cos(t), cy + rr * np.sin(t)], 1)

    if shape == "square":
        return ring(4, [r * 1.2], np.pi / 4)
    if shape == "diamond":
        return np.stack([[cx, cy - r * 1.15], [cx + r * 0.75, cy], [cx, cy + r * 1.15], [cx - r * 0.75, cy]])
    if shape == "triangle":
        return ring(3, [r * 1.25], -np.pi / 2)
    if shape == "star":
        return ring(10, [r * 1.25, r * 0.5], -np.pi / 2)
    if shape == "hexagon":
        return ring(6, [r * 1.1], 0.0)
    if shape == "cross":
        a, b = r * 1.1, r * 0.38
        pts = [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b), (-a, -b),
               (-b, -b)]
        return np.array([(cx + x, cy + y) for x, y in pts])
    raise ValueError(f"unknown shape {shape!r}")


def _draw_object(canvas: np.ndarray, obj: ShapeObject, radius: float, scale: int, angle: float) -> None:
    colour = COLOURS[obj.colour]
    cx, cy = obj.centre[0] * scale, obj.centre[1] * scale
    r = radius * scale
    if obj.shape == "circle":
        cv2.circle(canvas, (int(round(cx)), int(round(cy))), int(round(r * 1.05)), colour, -1, cv2.LINE_AA)
        return
    pts = _shape_points(obj.shape, cx, cy, r, angle)
    cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA)


def _background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    base = rng.integers(25, 80, 3).astype(np.float32)
    img = np.broadcast_to(base, (size, size, 3)).copy()
    if kind == "noise":
        img += rng.normal(0, 12, (size, size, 1))
    elif kind == "stripes":
        period = rng.integers(4, 10) * size / 64
        yy, xx = np.mgrid[0:size, 0:size]
        theta = rng.uniform(0, np.pi)
        img += 14 * (np.sin((np.cos(theta) * xx + np.sin(theta) * yy) * 2 * np.pi / period) > 0)[..., None]
    elif kind == "checker":
        cell = max(2, int(rng.integers(5, 12) * size / 64))
        yy, xx = np.mgrid[0:size, 0:size]
        img += 12 * (((yy // cell) + (xx // cell)) % 2)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _relation(a: ShapeObject, b: ShapeObject) -> str:
    dx, dy = a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]
    if abs(dy) >= abs(dx):
        return "above" if dy < 0 else "below"
    return "left" if dx < 0 else "right"


def _relation_words(rel: str) -> str:
    return rel if rel in ("above", "below") else f"to the {rel} of"


def short_caption(objects: list[ShapeObject], relation: str | None) -> str:
    """``a small red triangle above a large blue circle and a small green star`` (no punctuation)."""
    first = f"a {objects[0].phrase}"
    if len(objects) == 1:
        return first
    text = f"{first} {_relation_words(relation or 'above')} a {objects[1].phrase}"
    return " ".join([text, *(f"and a {o.phrase}" for o in objects[2:])])


def _where(obj: ShapeObject, size: int) -> str:
    x, y = obj.centre[0] / size, obj.centre[1] / size
    row = "upper" if y < 0.4 else "lower" if y > 0.6 else "middle"
    col = "left" if x < 0.4 else "right" if x > 0.6 else "centre"
    if row == "middle" and col == "centre":
        return "in the centre of the image"
    if row == "middle":
        return f"on the {col} side of the image"
    return f"in the {row} {col if col != 'centre' else 'middle'} part of the image"


_COUNT = {1: "one shape", 2: "two shapes", 3: "three shapes", 4: "four shapes"}
_BG_WORDS = {"plain": "a plain dark", "noise": "a grainy dark", "stripes": "a faintly striped dark",
             "checker": "a faint checkered dark"}


def long_caption(objects: list[ShapeObject], background: str, size: int) -> str:
    """A multi-sentence description: count and background, one sentence per object, pairwise relations.

    Four-object scenes run past 77 BPE tokens, the CLIP context, which long-prompt methods need.
    """
    sentences = [f"The picture shows {_COUNT[len(objects)]} on {_BG_WORDS[background]} background."]
    for i, obj in enumerate(objects):
        lead = "There is" if i == 0 else "There is also"
        sentences.append(f"{lead} a {obj.phrase} {_where(obj, size)}.")
    for a, b in zip(objects, objects[1:]):
        sentences.append(f"The {a.colour} {a.shape} is {_relation_words(_relation(a, b))} the {b.colour} {b.shape}.")
    if len(objects) == 1:
        sentences.append("Nothing else is in the picture.")
    return " ".join(sentences)


def make_foils(objects: list[ShapeObject], relation: str | None, rng: np.random.Generator) -> dict[str, Foil]:
    """One foil per kind (relation only for scenes of two or more objects), each with its word index."""
    caption = short_caption(objects, relation)
    words = caption.split()
    foils: dict[str, Foil] = {}
    target = int(rng.integers(len(objects)))
    # word positions of object ``target``'s size, colour and shape in the caption
    phrase_starts = [i + 1 for i, w in enumerate(words) if w == "a"]
    start = phrase_starts[target]
    present_colours = {o.colour for o in objects}
    present_shapes = {o.shape for o in objects}
    choices = {
        "size": (start, [s for s in SIZES if s != objects[target].size]),
        "colour": (start + 1, sorted(set(COLOURS) - present_colours)),
        "shape": (start + 2, sorted(set(SHAPES) - present_shapes)),
    }
    if relation is not None:
        choices["relation"] = (words.index(relation), [OPPOSITE[relation]])
    for kind in FOIL_KINDS:
        if kind not in choices:
            continue
        index, options = choices[kind]
        new = options[int(rng.integers(len(options)))]
        swapped = [*words[:index], new, *words[index + 1:]]
        foils[kind] = Foil(kind=kind, caption=" ".join(swapped), word_index=index, original_word=words[index],
                           new_word=new, object_index=None if kind == "relation" else target)
    return foils


def _sample_objects(rng: np.random.Generator, n: int, size: int, split: str) -> list[ShapeObject] | None:
    colours, shapes = list(COLOURS), list(SHAPES)
    objects: list[ShapeObject] = []
    for i in range(n):
        while True:
            combo = (colours[int(rng.integers(len(colours)))], shapes[int(rng.integers(len(shapes)))])
            if (combo in HELDOUT_COMBOS) == (split == "novel" and i == 0):
                break
        size_word = list(SIZES)[int(rng.integers(len(SIZES)))]
        radius = SIZES[size_word] * size
        margin = radius * 1.3 + 1
        for _ in range(50):
            cx, cy = rng.uniform(margin, size - margin, 2)
            if all(np.hypot(cx - o.centre[0], cy - o.centre[1]) > radius * 1.3 + SIZES[o.size] * size * 1.3 + 1
                   for o in objects):
                break
        else:
            return None
        r = radius * 1.25
        box = (float(max(cx - r, 0)), float(max(cy - r, 0)), float(min(cx + r, size)), float(min(cy + r, size)))
        objects.append(ShapeObject(combo[0], combo[1], size_word, (float(cx), float(cy)), box))
    return objects


def make_scene(seed: int, split: str = "train", index: int = 0, image_size: int = 64, min_objects: int = 1,
               max_objects: int = 4, swap_shape: tuple[int, str] | None = None) -> Scene:
    """Draw scene ``index`` of ``split`` for ``seed``: deterministic, independent of every other scene.

    ``swap_shape=(i, shape)`` draws the same scene (background, positions, angles) with object ``i`` in
    another shape: see :func:`shape_counterfactual`.
    """
    if not 1 <= min_objects <= max_objects <= 4:
        raise ValueError(f"need 1 <= min_objects <= max_objects <= 4, got {min_objects}, {max_objects}")
    rng = scene_rng(seed, split, index)
    n = int(rng.integers(min_objects, max_objects + 1))
    objects = None
    while objects is None:
        objects = _sample_objects(rng, n, image_size, split)
    if swap_shape is not None:
        i, shape = swap_shape
        objects[i] = replace(objects[i], shape=shape)
    background = _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))]
    scale = 4
    canvas = cv2.resize(_background(background, image_size, rng), (image_size * scale,) * 2,
                        interpolation=cv2.INTER_NEAREST)
    for obj in objects:
        _draw_object(canvas, obj, SIZES[obj.size] * image_size, scale, float(rng.uniform(-0.3, 0.3)))
    image = cv2.resize(canvas, (image_size, image_size), interpolation=cv2.INTER_AREA)
    relation = _relation(objects[0], objects[1]) if n > 1 else None
    return Scene(image=image, objects=objects, caption=short_caption(objects, relation),
                 long_caption=long_caption(objects, background, image_size), background=background,
                 relation=relation, foils=make_foils(objects, relation, rng), split=split, index=index)


def shape_counterfactual(scene: Scene, seed: int, image_size: int = 64, min_objects: int = 1,
                         max_objects: int = 4) -> Scene | None:
    """The scene redrawn with its shape foil made true: the picture of ``scene.foils["shape"].caption``.

    A hard negative image (the pair of the caption's hard negative text) for contrastive training. The
    arguments must be the ones that drew ``scene``. ``None`` when the swap would draw a held-out
    colour-shape combination outside the ``novel`` split, which training must never see.
    """
    foil = scene.foils["shape"]
    obj = scene.objects[foil.object_index]
    if scene.split != "novel" and (obj.colour, foil.new_word) in HELDOUT_COMBOS:
        return None
    return make_scene(seed, scene.split, scene.index, image_size, min_objects, max_objects,
                      swap_shape=(foil.object_index, foil.new_word))


def generate_scenes(n: int, split: str = "train", seed: int = 0, image_size: int = 64, min_objects: int = 1,
                    max_objects: int = 4, start: int = 0) -> list[Scene]:
    """Scenes ``start .. start + n - 1`` of ``split``. The public generator the tasks and tests use."""
    return [make_scene(seed, split, i, image_size, min_objects, max_objects) for i in range(start, start + n)]


def load_scenes(split: str = "test", n: int = 64, seed: int = 0, image_size: int = 64, min_objects: int = 1,
                max_objects: int = 4, start: int = 0) -> CaptionedScenes:
    """The sample ``shapes``: scenes ``start .. start + n - 1`` of ``split`` with the world's vocabulary."""
    return CaptionedScenes(scenes=generate_scenes(n, split, seed, image_size, min_objects, max_objects, start),
                           vocabulary={"colour": tuple(COLOURS), "shape": SHAPES, "size": tuple(SIZES),
                                       "relation": RELATIONS}, foil_kinds=FOIL_KINDS)
