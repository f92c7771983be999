"""The shapes OOD world (sample ``shapes-ood``): name the colour and shape of one object (12 classes); near-OOD
pictures are drawn the same way with shapes or colours the classifier never saw, far-OOD ones are textures and
photo patches.

On the digits world every detector sits at near-OOD AUROC 0.98-0.99, so no method can be ranked there. Here the
near-OOD shapes are close cousins of the ID ones at 32 px (a hexagon is almost a circle, a diamond a turned square)
and the near-OOD colours neighbours of the ID ones (orange of red, purple of blue), on the same backgrounds, sizes
and positions, which leaves room between the methods. (Measured with a plain CE model's MSP: hexagons 0.83 AUROC,
orange 0.91, diamonds and purple 0.96-0.98; crosses, cyan, yellow, pink, white and brown were easier, 0.96-1.0.)
Deterministic by seed; images float32 ``(n, 3, size, size)`` in [0, 1] like every labelled-images world.
"""

from __future__ import annotations

import cv2
import numpy as np

from wb_shapes.world import _BACKGROUNDS, SIZES, ShapeObject, _background, _draw_object
from workbench.api import LabelledImageSet

ID_SHAPES = ("circle", "square", "triangle", "star")
ID_COLOURS = ("red", "green", "blue")
NEAR_SHAPES = ("hexagon", "diamond")
NEAR_COLOURS = ("orange", "purple")
CLASSES = tuple(f"{c} {s}" for c in ID_COLOURS for s in ID_SHAPES)
_SCALE = 4


def _one_object(rng: np.random.Generator, colour: str, shape: str, size: int) -> np.ndarray:
    """A shapes-world picture of one object: random background, size word, position and turn."""
    size_word = list(SIZES)[int(rng.integers(len(SIZES)))]
    radius = SIZES[size_word] * size
    margin = radius * 1.3 + 1
    cx, cy = rng.uniform(margin, size - margin, 2)
    obj = ShapeObject(colour, shape, size_word, (float(cx), float(cy)), (0.0, 0.0, 0.0, 0.0))
    kind = _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))]
    canvas = cv2.resize(_background(kind, size, rng), (size * _SCALE,) * 2, interpolation=cv2.INTER_NEAREST)
    _draw_object(canvas, obj, radius, _SCALE, float(rng.uniform(-0.3, 0.3)))
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def _objects(n: int, colours: tuple[str, ...], shapes: tuple[str, ...], size: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` one-object pictures (uint8 NHWC) of uniformly drawn ``colours`` x ``shapes``, and their class index
    ``colour * len(shapes) + shape``."""
    labels = rng.integers(len(colours) * len(shapes), size=n)
    pictures = [_one_object(rng, colours[int(k) // len(shapes)], shapes[int(k) % len(shapes)], size) for k in labels]
    return np.stack(pictures), labels.astype(np.int64)


def _textures(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Coloured gratings, checkerboards and smoothed colour noise: no object, a picture's worth of colour."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        theta, freq = rng.uniform(0, np.pi), rng.uniform(2, 8)
        u = np.cos(theta) * xx + np.sin(theta) * yy
        kind = i % 3
        if kind == 0:
            mix = 0.5 + 0.5 * np.sin(2 * np.pi * freq * u + rng.uniform(0, 2 * np.pi))
        elif kind == 1:
            v = -np.sin(theta) * xx + np.cos(theta) * yy
            mix = ((np.floor(u * freq) + np.floor(v * freq)) % 2).astype(np.float32)
        else:
            noise = rng.normal(size=(size // 4, size // 4)).astype(np.float32)
            mix = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
            mix = (mix - mix.min()) / (np.ptp(mix) + 1e-6)
        out[i] = np.clip(a + (b - a) * mix[..., None], 0, 255).astype(np.uint8)
    return out


def _photo_patches(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random crops of scikit-learn's two sample photographs (shipped with it, offline), resized to ``size``."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        photo = photos[i % len(photos)]
        s = int(rng.integers(24, 128))
        y, x = rng.integers(0, photo.shape[0] - s), rng.integers(0, photo.shape[1] - s)
        out[i] = cv2.resize(photo[y:y + s, x:x + s], (size, size), interpolation=cv2.INTER_AREA)
    return out


def _floats(images: np.ndarray) -> np.ndarray:
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0


def load_shapes_ood(seed: int = 0, size: int = 32, n_train: int = 2000, n_test: int = 800, n_ood: int = 500
                    ) -> LabelledImageSet:
    """Build the world (the sample ``shapes-ood``): ID = :data:`ID_SHAPES` in :data:`ID_COLOURS` (the label is the
    pair, :data:`CLASSES`); near-OOD ``new-shapes`` (:data:`NEAR_SHAPES` in ID colours) and ``new-colours`` (ID
    shapes in :data:`NEAR_COLOURS`); far-OOD ``textures`` and ``photo-patches``, ``n_ood`` each."""
    streams = [np.random.default_rng(np.random.SeedSequence([seed, 7, k])) for k in range(6)]
    x_train, y_train = _objects(n_train, ID_COLOURS, ID_SHAPES, size, streams[0])
    x_test, y_test = _objects(n_test, ID_COLOURS, ID_SHAPES, size, streams[1])
    world = LabelledImageSet(x_train=_floats(x_train), y_train=y_train, x_test=_floats(x_test), y_test=y_test,
                             classes=CLASSES)
    near = {"new-shapes": _objects(n_ood, ID_COLOURS, NEAR_SHAPES, size, streams[2])[0],
            "new-colours": _objects(n_ood, NEAR_COLOURS, ID_SHAPES, size, streams[3])[0]}
    far = {"textures": _textures(n_ood, size, streams[4]), "photo-patches": _photo_patches(n_ood, size, streams[5])}
    for group, sets in (("near", near), ("far", far)):
        for name, images in sets.items():
            world.ood[name], world.groups[name] = _floats(images), group
    return world
