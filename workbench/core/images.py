"""Reading images and ImageFolder trees with errors that name the file, never a crash deep in numpy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from workbench.core.errors import ImageReadError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def read_image(path: Path | str, mode: Literal["L", "RGB"] = "RGB") -> np.ndarray:
    """Decode ``path`` to uint8 ``HxW`` (L) or ``HxWx3`` (RGB). 16-bit, palette and alpha images are converted."""
    from PIL import Image, UnidentifiedImageError
    from PIL.Image import DecompressionBombError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                arr = np.asarray(img, dtype=np.float64)
                if not np.isfinite(arr).all():
                    raise ValueError("the image holds NaN or infinite pixel values")
                span = arr.max() - arr.min()
                arr = (arr - arr.min()) / (span if span > 0 else 1.0) * 255.0
                img = Image.fromarray(arr.astype(np.uint8), mode="L")
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
                background = Image.new("RGBA", img.size, (0, 0, 0, 255))
                img = Image.alpha_composite(background, img)
            return np.asarray(img.convert(mode), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, DecompressionBombError) as exc:
        raise ImageReadError(f"{path}: cannot be read as an image ({exc})") from None


@dataclass
class FolderImages:
    """Images of an ImageFolder tree (``root/<class>/<file>``), their labels and what was skipped."""

    root: Path
    classes: list[str]
    paths: list[Path] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_image_folder(
    root: Path | str, mode: Literal["L", "RGB"] = "RGB", on_error: Literal["raise", "skip"] = "raise",
    classes: list[str] | None = None,
) -> FolderImages:
    """Read every image under ``root/<class>/``. Corrupt files raise naming the file, or are skipped and counted.

    ``classes`` fixes the class order (e.g. the training set's) and makes a missing or extra class an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageReadError(f"{root}: not a folder")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise ImageReadError(f"{root}: no class folders (expected {root}/<class>/<image files>)")
    if classes is not None:
        extra = sorted(set(found) - set(classes))
        if extra:
            raise ImageReadError(f"{root}: class folder(s) {extra} are not among the expected classes {classes}")
    order = classes or found
    out = FolderImages(root=root, classes=list(order))
    for label, name in enumerate(order):
        folder = root / name
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not files:
            raise ImageReadError(f"{folder}: class {name!r} has no image files")
        for path in files:
            try:
                out.images.append(read_image(path, mode))
            except ImageReadError as exc:
                if on_error == "raise":
                    raise ImageReadError(f"{exc} (set on_bad_image=skip to skip unreadable files)") from None
                out.skipped.append(str(exc))
                continue
            out.paths.append(path)
            out.labels.append(label)
    if not out.images:
        raise ImageReadError(f"{root}: no readable image ({len(out.skipped)} skipped)")
    return out


def read_image_tree(
    folder: Path | str, mode: Literal["L", "RGB"] = "RGB", on_error: Literal["raise", "skip"] = "raise",
    what: str = "images",
) -> FolderImages:
    """Every image under ``folder`` (recursively) as one set, e.g. an OOD or outlier folder.

    ``what`` names the parameter in errors. Unreadable files raise naming the file, or are skipped and listed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"{what}: {folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageReadError(f"{what}: {folder} holds no image files")
    out = FolderImages(root=folder, classes=[])
    for path in files:
        try:
            out.images.append(read_image(path, mode))
        except ImageReadError as exc:
            if on_error == "raise":
                raise ImageReadError(f"{what}: {exc} (set on_bad_image=skip to skip unreadable files)") from None
            out.skipped.append(str(exc))
            continue
        out.paths.append(path)
    if not out.images:
        raise ImageReadError(f"{what}: no readable image in {folder} ({len(out.skipped)} skipped)")
    return out
