"""Where the source model and the data come from: the digits zoo CNN or a checkpoint; the digits world or an
ImageFolder tree; and the ONNX export that LAME and no-adaptation can run on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from wb_digits.model import FeaturesAndLogits
from wb_digits.zoo import load_model
from workbench.api import ExportReport, export_onnx, read_image_folder

DIGITS = "digits"


@dataclass
class LabelledImages:
    """Images ``(n, 1, h, w)`` in [0, 1] with labels and class names."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]


def load_source_model(path: str = "") -> nn.Module:
    """The zoo digits CNN, or a DigitsCNN checkpoint at ``path`` (safetensors or a plain state dict)."""
    model = load_model(path or None)
    for attr in ("forward_features", "fc"):
        if not hasattr(model, attr):
            raise ValueError(f"{path or 'zoo model'}: a source model needs `forward_features` and `fc`")
    return model


def _folder(path: str, size: int) -> LabelledImages:
    found = read_image_folder(path, mode="L")
    x = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in found.images])
    return LabelledImages(x[:, None].astype(np.float32) / 255.0, np.asarray(found.labels, np.int64),
                          tuple(found.classes))


def load_split(data: str, split: str, size: int = 32) -> LabelledImages:
    """``data`` is ``digits`` (the world's ``train`` split is the source, ``test`` the stream) or a folder
    ``root/<class>/<images>`` read whole (``split`` ignored) as greyscale and resized to ``size``."""
    if data == DIGITS:
        from wb_digits.world import load_digits_world

        world = load_digits_world(seed=0, size=size)
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


def export_features_and_logits(model: nn.Module, path: Path, example: np.ndarray) -> ExportReport:
    """Export ``(logits, features)`` of ``model`` with a dynamic batch axis (parity-checked against torch)."""
    import torch

    return export_onnx(FeaturesAndLogits(model.eval()), (torch.from_numpy(example[:2]),), path,
                       input_names=("input",), output_names=("logits", "features"), check_batch_sizes=(1, 5))
