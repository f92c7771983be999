"""CIFAR-C style corruptions for single-channel images in [0, 1], five severities each (numpy/opencv only).

Severity constants follow the CIFAR-10-C recipe (Hendrycks & Dietterich, 2019), which was written for 32x32
images, the size of the digits world; the ``digits`` ladder keeps the forms with stronger constants. Brightness
shifts the grey level instead of the HSV value channel because the images have one channel. Each function
takes ``(n, c, h, w)`` float32, the severity's constant and a numpy Generator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

Corruption = Callable[[np.ndarray, Any, np.random.Generator], np.ndarray]

LADDERS = ("digits", "cifar10c")
"""``cifar10c``: the CIFAR-10-C constants. ``digits`` (default): the same forms with stronger constants,
calibrated so the zoo digits CNN loses accuracy monotonically (the digits are 8x8 sources upscaled to 32x32,
so the CIFAR constants for blur, pixelate and JPEG barely touch them)."""

_SEVERITIES: dict[str, dict[str, tuple]] = {
    "cifar10c": {
        "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
        "shot_noise": (500.0, 250.0, 100.0, 75.0, 50.0),
        "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1)),
        "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),
        "motion_blur": ((10, 1.0), (10, 1.5), (10, 2.0), (10, 2.5), (12, 3.0)),
        "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
        "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
        "jpeg": (80, 65, 58, 50, 40),
        "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),
    },
    "digits": {
        "gaussian_noise": (0.06, 0.08, 0.10, 0.12, 0.15),
        "shot_noise": (60.0, 40.0, 30.0, 25.0, 20.0),
        "defocus_blur": ((3.0, 0.5), (4.5, 0.5), (6.0, 0.5), (7.0, 0.5), (8.0, 0.5)),
        "gaussian_blur": (2.0, 2.5, 3.0, 3.5, 4.0),
        "motion_blur": ((12, 5.0), (16, 7.0), (20, 9.0), (24, 11.0), (28, 13.0)),
        "contrast": (0.7, 0.6, 0.5, 0.45, 0.4),
        "brightness": (0.15, 0.25, 0.35, 0.45, 0.55),
        "jpeg": (30, 15, 8, 4, 1),
        "pixelate": (0.4, 0.3, 0.25, 0.2, 0.16),
    },
}


def _each(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.stack([np.stack([fn(ch) for ch in img]) for img in x])


def gaussian_noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return x + rng.normal(0.0, sigma, x.shape)


def shot_noise(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(np.clip(x, 0, 1) * c) / c


def _disk(radius: float, alias_sigma: float) -> np.ndarray:
    size = int(np.ceil(max(radius, 1.0)))
    yy, xx = np.mgrid[-size:size + 1, -size:size + 1]
    kernel = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float32)
    kernel /= kernel.sum()
    return cv2.GaussianBlur(kernel, (3, 3), alias_sigma)


def defocus_blur(x: np.ndarray, c: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    kernel = _disk(*c)
    return _each(x, lambda ch: cv2.filter2D(ch, -1, kernel, borderType=cv2.BORDER_REFLECT))


def gaussian_blur(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return _each(x, lambda ch: cv2.GaussianBlur(ch, (0, 0), sigma, borderType=cv2.BORDER_REFLECT))


def _motion_kernel(radius: int, sigma: float, angle: float) -> np.ndarray:
    """A one-sided line of Gaussian-weighted taps (like ImageMagick's motion blur), rotated by ``angle``."""
    size = 2 * radius + 1
    kernel = np.zeros((size, size), np.float32)
    weights = np.exp(-np.arange(radius + 1) ** 2 / (2 * sigma ** 2))
    for i, w in enumerate(weights):
        kernel[radius, radius + i] += w
    rot = cv2.getRotationMatrix2D((radius, radius), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (size, size), flags=cv2.INTER_LINEAR)
    return kernel / kernel.sum()


def motion_blur(x: np.ndarray, c: tuple[int, float], rng: np.random.Generator) -> np.ndarray:
    radius, sigma = c
    out = np.empty_like(x)
    for i, img in enumerate(x):
        kernel = _motion_kernel(radius, sigma, float(rng.uniform(-45, 45)))
        out[i] = np.stack([cv2.filter2D(ch, -1, kernel, borderType=cv2.BORDER_REFLECT) for ch in img])
    return out


def contrast(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    means = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - means) * c + means


def brightness(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    return x + c


def jpeg(x: np.ndarray, quality: int, rng: np.random.Generator) -> np.ndarray:
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]

    def one(ch: np.ndarray) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", (np.clip(ch, 0, 1) * 255).round().astype(np.uint8), params)
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0

    return _each(x, one)


def pixelate(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[-2:]
    small = (max(1, int(w * c)), max(1, int(h * c)))

    def one(ch: np.ndarray) -> np.ndarray:
        down = cv2.resize(ch, small, interpolation=cv2.INTER_AREA)
        return cv2.resize(down, (w, h), interpolation=cv2.INTER_NEAREST)

    return _each(x, one)


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise, "shot_noise": shot_noise, "defocus_blur": defocus_blur,
    "gaussian_blur": gaussian_blur, "motion_blur": motion_blur, "contrast": contrast,
    "brightness": brightness, "jpeg": jpeg, "pixelate": pixelate,
}


def corrupt(x: np.ndarray, name: str, severity: int, seed: int = 0, ladder: str = "digits") -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` (1-5) of ``ladder`` to ``(n, c, h, w)`` images in [0, 1].

    ``none`` returns a copy. The result is clipped to [0, 1]; the random draws are fixed by ``seed``.
    """
    if name == "none":
        return x.astype(np.float32, copy=True)
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: none, {', '.join(CORRUPTIONS)}")
    if not 1 <= severity <= 5:
        raise ValueError(f"severity must be 1-5, got {severity}")
    if ladder not in _SEVERITIES:
        raise ValueError(f"unknown severity ladder {ladder!r}; known: {', '.join(LADDERS)}")
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (n, c, h, w), got {x.shape}")
    level = _SEVERITIES[ladder][name][severity - 1]
    out = CORRUPTIONS[name](x.astype(np.float32), level, np.random.default_rng(seed))
    return np.clip(out, 0.0, 1.0).astype(np.float32)
