"""The digits world: real handwritten digits (scikit-learn) as ID/near-OOD, photo patches and synthetic far-OOD.

Deterministic by seed. Images are float32 in [0, 1], shape ``(n, 1, size, size)``; 8x8 sources are
upscaled bilinearly, far-OOD images go through the same 8x8 -> size path so that blur is not a shortcut.
"""

from __future__ import annotations

import cv2
import numpy as np

from workbench.api import LabelledImageSet

ID_CLASSES = (0, 1, 2, 3, 4, 5)
NEAR_CLASSES = (6, 7, 8, 9)


def _upscale(images8: np.ndarray, size: int) -> np.ndarray:
    out = np.stack([cv2.resize(im.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
                    for im in images8])
    return np.clip(out, 0.0, 1.0)[:, None]


def _photo_patches(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import load_sample_images

    photos = [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0 for img in load_sample_images().images]
    out = np.empty((n, 8, 8), np.float32)
    for i in range(n):
        photo = photos[i % len(photos)]
        s = int(rng.integers(24, 96))
        y, x = rng.integers(0, photo.shape[0] - s), rng.integers(0, photo.shape[1] - s)
        patch = cv2.resize(photo[y:y + s, x:x + s], (8, 8), interpolation=cv2.INTER_AREA)
        lo, hi = patch.min(), patch.max()
        out[i] = (patch - lo) / (hi - lo + 1e-6)
    return out


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rng.normal(0.3, 0.3, (n, 8, 8)), 0, 1).astype(np.float32)


def _textures(n: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:8, 0:8].astype(np.float32)
    out = np.empty((n, 8, 8), np.float32)
    for i in range(n):
        theta, freq, phase = rng.uniform(0, np.pi), rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
        wave = np.sin(freq * (np.cos(theta) * xx + np.sin(theta) * yy) + phase)
        out[i] = 0.5 + 0.5 * wave if i % 2 else (wave > 0).astype(np.float32)
    return out


def load_digits_world(seed: int = 0, size: int = 32, n_far: int = 300, test_fraction: float = 0.3
                      ) -> LabelledImageSet:
    """Build the world (the sample ``digits``). The ID split is stratified and fixed by ``seed``; far-OOD sets
    have ``n_far`` images."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    labels = digits.target
    is_id = np.isin(labels, ID_CLASSES)
    x_id, y_id = images[is_id], labels[is_id]
    remap = {c: i for i, c in enumerate(ID_CLASSES)}
    y_id = np.array([remap[int(c)] for c in y_id], dtype=np.int64)
    xtr, xte, ytr, yte = train_test_split(x_id, y_id, test_size=test_fraction, random_state=seed, stratify=y_id)
    rng = np.random.default_rng(seed)
    world = LabelledImageSet(x_train=_upscale(xtr, size), y_train=ytr, x_test=_upscale(xte, size), y_test=yte,
                             classes=tuple(str(c) for c in ID_CLASSES))
    world.ood["digits-6-9"] = _upscale(images[np.isin(labels, NEAR_CLASSES)], size)
    world.groups["digits-6-9"] = "near"
    for name, maker in (("photo-patches", _photo_patches), ("noise", _noise), ("textures", _textures)):
        world.ood[name] = _upscale(maker(n_far, rng), size)
        world.groups[name] = "far"
    return world
