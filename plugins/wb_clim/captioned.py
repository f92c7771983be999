"""A user's captioned image set as CLIM training data: read once, each image centre-cropped to a square and
resized to the scene size, so that images of any size tile the same mosaic cells.

The pairs come from the CLIP heatmaps plugin's readers (folder + ``.txt``, CSV, JSONL, COCO captions). Items that
cannot be used (a missing or unreadable image, an empty caption, a bad line) are skipped, counted and named; the
batches cycle through the rest in an order fixed by the data seed, reshuffled every pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from wb_clipmap.api import read_pairs
from workbench.api import ImageReadError, UserError, read_image

MAX_NAMED = 5


@dataclass
class CaptionedSet:
    images: list[np.ndarray]
    captions: list[str]
    skipped: list[str] = field(default_factory=list)
    resized: int = 0

    def batch(self, step: int, size: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
        """Items ``step*size .. step*size+size-1`` of the endless sequence of seeded passes over the set."""
        n = len(self.images)
        orders: dict[int, np.ndarray] = {}
        picked = []
        for position in range(step * size, step * size + size):
            rounds, k = divmod(position, n)
            if rounds not in orders:
                orders[rounds] = np.random.default_rng([seed, rounds]).permutation(n)
            picked.append(int(orders[rounds][k]))
        return [self.images[i] for i in picked], [self.captions[i] for i in picked]

    def summary(self) -> str:
        named = "; ".join(self.skipped[:MAX_NAMED]) + (f"; and {len(self.skipped) - MAX_NAMED} more"
                                                        if len(self.skipped) > MAX_NAMED else "")
        return (f"{len(self.images)} captioned images, {len(self.skipped)} skipped"
                + (f" ({named})" if self.skipped else "")
                + f"; {self.resized} were not {self.images[0].shape[0]} px squares and were centre-cropped and resized")


def square(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[top:top + side, left:left + side]
    return crop if side == size else cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def read_captioned(source: str, image_root: str, size: int, batch_size: int) -> CaptionedSet:
    found = read_pairs(source, image_root)
    out = CaptionedSet(images=[], captions=[], skipped=list(found.problems))
    for pair in found.pairs:
        if not pair.caption.strip():
            out.skipped.append(f"{pair.image_path}: empty caption")
            continue
        try:
            image = read_image(pair.image_path)
        except ImageReadError as exc:
            out.skipped.append(str(exc))
            continue
        out.resized += image.shape[:2] != (size, size)
        out.images.append(square(image, size))
        out.captions.append(pair.caption.strip())
    if len(out.images) < batch_size:
        raise UserError(f"captions={source}: {len(out.images)} usable captioned images, fewer than batch_size="
                        f"{batch_size}; {len(out.skipped)} skipped"
                        + (f" ({'; '.join(out.skipped[:MAX_NAMED])})" if out.skipped else ""))
    return out
