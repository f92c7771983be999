"""Extra OOD image folders, brought to the classifier's input format (grayscale 32x32 in [0, 1])."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from workbench.api import IMAGE_SUFFIXES, ImageReadError, read_image


def read_ood_folder(folder: str | Path, size: int = 32, on_bad_image: str = "raise") -> tuple[np.ndarray, list[str]]:
    """All images under ``folder`` (recursively) as ``(n, 1, size, size)``; returns the skipped files' errors too."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"extra_ood_dirs: {folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageReadError(f"extra_ood_dirs: {folder} holds no image files")
    images, skipped = [], []
    for path in files:
        try:
            gray = read_image(path, mode="L").astype(np.float32) / 255.0
        except ImageReadError as exc:
            if on_bad_image == "raise":
                raise ImageReadError(f"{exc} (set on_bad_image=skip to skip unreadable files)") from None
            skipped.append(str(exc))
            continue
        images.append(cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA))
    if not images:
        raise ImageReadError(f"extra_ood_dirs: no readable image in {folder} ({len(skipped)} skipped)")
    return np.stack(images)[:, None], skipped
