"""Where the source model and the data come from: a zoo classifier (the digits CNN by default) or a weights file of
its architecture; the digits world or an ImageFolder tree. Both are reached through the host by id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from workbench.api import check_classifier, load_sample, load_zoo_model, read_image_folder

DIGITS = "digits"


@dataclass
class LabelledImages:
    """Images ``(n, 1, h, w)`` in [0, 1] with labels and class names."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]


def load_source_model(path: str = "", model: str = "digits-cnn") -> nn.Module:
    """Zoo model ``model``, or a weights file of its architecture at ``path`` (safetensors or a state dict)."""
    return check_classifier(load_zoo_model(model, weights=path or None), path or model)


def _folder(path: str, size: int) -> LabelledImages:
    found = read_image_folder(path, mode="L")
    x = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in found.images])
    return LabelledImages(x[:, None].astype(np.float32) / 255.0, np.asarray(found.labels, np.int64),
                          tuple(found.classes))


def load_split(data: str, split: str, size: int = 32) -> LabelledImages:
    """``data`` is ``digits`` (the world's ``train`` split is the source, ``test`` the stream) or a folder
    ``root/<class>/<images>`` read whole (``split`` ignored) as greyscale and resized to ``size``."""
    if data == DIGITS:
        world = load_sample("digits", seed=0, size=size)
        x, y = (world.x_train, world.y_train) if split == "train" else (world.x_test, world.y_test)
        return LabelledImages(x, y, world.classes)
    if not Path(data).is_dir():
        raise ValueError(f"data {data!r}: expected 'digits' or an ImageFolder directory (root/<class>/<images>)")
    return _folder(data, size)


def source_subset(images: LabelledImages, per_class: int, seed: int) -> LabelledImages:
    """At most ``per_class`` images of each class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.permutation(np.flatnonzero(images.y == c))[:per_class]
                           for c in np.unique(images.y)])
    return LabelledImages(images.x[keep], images.y[keep], images.classes)


def check_classes(images: LabelledImages, model: nn.Module, what: str) -> None:
    n = int(model.fc.out_features)
    if int(images.y.max()) >= n:
        raise ValueError(f"{what}: labels go up to {int(images.y.max())} ({len(images.classes)} classes) but the "
                         f"model predicts {n} classes")
