"""numpy image -> QImage/QPixmap, copying so the Qt image never points at freed numpy memory."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx3 from uint8/float images (floats are taken as [0, 1]); CHW 1/3 channels accepted."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.dtype != np.uint8:
        img = (np.clip(img.astype(float), 0.0, 1.0) * 255).round().astype(np.uint8)
    return np.ascontiguousarray(img)


def qimage(image: np.ndarray) -> QImage:
    img = to_uint8(image)
    h, w = img.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if img.ndim == 2 else QImage.Format.Format_RGB888
    return QImage(img.data, w, h, img.strides[0], fmt).copy()


def thumbnail(image: np.ndarray, size: int = 48) -> QPixmap:
    return QPixmap.fromImage(qimage(image)).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                   Qt.TransformationMode.FastTransformation)
