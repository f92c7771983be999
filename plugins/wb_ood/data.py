"""Extra OOD image folders, brought to the classifier's input format (grayscale 32x32 in [0, 1])."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from workbench.api import read_image_tree


def read_ood_folder(folder: str | Path, size: int = 32, on_bad_image: str = "raise") -> tuple[np.ndarray, list[str]]:
    """All images under ``folder`` (recursively) as ``(n, 1, size, size)``; returns the skipped files' errors too."""
    found = read_image_tree(folder, mode="L", on_error=on_bad_image, what="extra_ood_dirs")
    images = [cv2.resize(img.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
              for img in found.images]
    return np.stack(images)[:, None], found.skipped
