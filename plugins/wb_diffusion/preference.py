"""Preference pairs (caption, chosen image, rejected image): Pick-a-Pic-style readers and a shapes-world generator.

Two on-disk formats, as Pick-a-Pic v2 and hand-made sets come:

- parquet with columns ``caption``, ``jpg_0``, ``jpg_1`` (encoded image bytes) and ``label_0``;
- a folder holding ``pairs.jsonl`` (or the ``.jsonl`` file itself), one object per line with ``caption``,
  ``image_0``, ``image_1`` (paths relative to the file) and ``label_0``.

``label_0`` is the share of raters preferring image 0: 1 (image 0 chosen), 0 (image 1 chosen) or 0.5 (a tie, removed
unless ``keep_ties``; a kept tie trains with image 0 as the chosen one, as the reference code does). The two images
of a pair are concatenated for training, so their sizes must match: ``sizes="error"`` refuses a mismatch, naming the
row; ``sizes="resize"`` resizes the rejected image to the chosen one's size (bicubic).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from workbench.api import UserError, read_image

JSONL = "pairs.jsonl"
LABELS = (0.0, 0.5, 1.0)
SizePolicy = Literal["error", "resize"]


@dataclass
class PreferencePair:
    """One caption with its chosen and rejected RGB uint8 images; ``where`` names the file and row it came from."""

    caption: str
    chosen: np.ndarray
    rejected: np.ndarray
    label_0: float = 1.0
    where: str = ""


def _label(value, where: str) -> float:
    try:
        label = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: label_0={value!r} is not a number (expected 0, 0.5 or 1)") from None
    if label not in LABELS:
        raise UserError(f"{where}: label_0={value!r} is outside {{0, 0.5, 1}}")
    return label


def _decode(data, where: str, column: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if data is None or len(data) == 0:
        raise UserError(f"{where}: {column} holds no image")
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{where}: {column} cannot be decoded as an image ({exc})") from None


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BICUBIC))


def _pair(caption, image_0: np.ndarray, image_1: np.ndarray, label: float, where: str,
          sizes: SizePolicy) -> PreferencePair:
    if not isinstance(caption, str) or not caption.strip():
        raise UserError(f"{where}: empty caption")
    chosen, rejected = (image_1, image_0) if label == 0.0 else (image_0, image_1)
    if chosen.shape != rejected.shape:
        if sizes == "error":
            raise UserError(f"{where}: the two images differ in size ({image_0.shape[1]}x{image_0.shape[0]} vs "
                            f"{image_1.shape[1]}x{image_1.shape[0]}); pass sizes='resize' to resize the rejected "
                            "one to the chosen one's size")
        rejected = _resize(rejected, chosen.shape[:2])
    return PreferencePair(caption, chosen, rejected, label, where)


def read_parquet_pairs(path: Path, keep_ties: bool = False, sizes: SizePolicy = "error") -> list[PreferencePair]:
    """Pairs of a Pick-a-Pic-style parquet file (see the module docstring)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(f"{path}: reading parquet needs pyarrow (pip install pyarrow), or convert the pairs to a "
                        "folder + pairs.jsonl") from None

    columns = ["caption", "jpg_0", "jpg_1", "label_0"]
    try:
        file = pq.ParquetFile(path)
    except Exception as exc:
        raise UserError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
    names = file.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(names)})")
    pairs = []
    i = -1
    for chunk in file.iter_batches(batch_size=256, columns=columns):  # decoded a chunk at a time
        for row in chunk.to_pylist():
            i += 1
            where = f"{path} row {i}"
            label = _label(row["label_0"], where)
            if label == 0.5 and not keep_ties:
                continue
            pairs.append(_pair(row["caption"], _decode(row["jpg_0"], where, "jpg_0"),
                               _decode(row["jpg_1"], where, "jpg_1"), label, where, sizes))
    return pairs


def read_jsonl_pairs(path: Path, keep_ties: bool = False, sizes: SizePolicy = "error") -> list[PreferencePair]:
    """Pairs of a ``pairs.jsonl`` file; image paths are relative to its folder."""
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not JSON ({exc.msg})") from None
        missing = [k for k in ("caption", "image_0", "image_1", "label_0") if k not in row]
        if missing:
            raise UserError(f"{where}: missing key(s) {', '.join(missing)}")
        label = _label(row["label_0"], where)
        if label == 0.5 and not keep_ties:
            continue
        images = []
        for key in ("image_0", "image_1"):
            image_path = path.parent / row[key]
            if not image_path.is_file():
                raise UserError(f"{where}: {key} {image_path} does not exist")
            images.append(read_image(image_path))
        pairs.append(_pair(row["caption"], *images, label, where, sizes))
    return pairs


def read_pairs(source: str | Path, keep_ties: bool = False, sizes: SizePolicy = "error") -> list[PreferencePair]:
    """Pairs from a parquet file, a ``.jsonl`` file or a folder with ``pairs.jsonl``; an empty result is an error."""
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / JSONL
    if not path.is_file():
        raise UserError(f"pairs={source}: no such file (give a .parquet file, a .jsonl file or a folder with {JSONL})")
    if path.suffix == ".parquet":
        pairs = read_parquet_pairs(path, keep_ties, sizes)
    elif path.suffix == ".jsonl":
        pairs = read_jsonl_pairs(path, keep_ties, sizes)
    else:
        raise UserError(f"pairs={source}: expected a .parquet or .jsonl file")
    if not pairs:
        raise UserError(f"{path}: no preference pairs" + ("" if keep_ties else " (ties removed)"))
    return pairs


def write_pairs(pairs: Sequence[PreferencePair], folder: Path, seed: int = 0) -> Path:
    """Write ``pairs`` as a folder + ``pairs.jsonl`` that :func:`read_pairs` reads back; which image is image 0 is
    drawn at random (``seed``), with ``label_0`` saying which one is chosen."""
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = []
    for i, pair in enumerate(pairs):
        swap = bool(rng.integers(2))
        first, second = (pair.rejected, pair.chosen) if swap else (pair.chosen, pair.rejected)
        names = [f"images/{i:06d}_{k}.png" for k in (0, 1)]
        for name, image in zip(names, (first, second)):
            Image.fromarray(image).save(folder / name)
        lines.append(json.dumps({"caption": pair.caption, "image_0": names[0], "image_1": names[1],
                                 "label_0": 0.0 if swap else 1.0}))
    (folder / JSONL).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / JSONL


def shape_foil_pairs(n: int, seed: int = 0, split: str = "train", image_size: int = 32,
                     kinds: Sequence[str] = ("colour", "shape", "size"), pool: int = 400) -> list[PreferencePair]:
    """``n`` one-object shapes scenes: chosen = the scene, rejected = a drawn scene whose caption is one of its foils.

    The foil's picture is found among ``pool`` further scenes of the split (one-object captions are few, so nearly
    every foil is drawn there); scenes whose foils of ``kinds`` are all missing from the pool are skipped.
    """
    from workbench.api import load_sample

    if n < 1:
        raise UserError(f"n={n}: ask for at least one pair")
    options = {"split": split, "seed": seed, "image_size": image_size, "min_objects": 1, "max_objects": 1}
    drawn: dict[str, np.ndarray] = {}
    for scene in load_sample("shapes", n=pool, start=10 * n, **options):
        drawn.setdefault(scene.caption, scene.image)
    rng = np.random.default_rng(seed)
    pairs: list[PreferencePair] = []
    start = 0
    while len(pairs) < n and start < 10 * n:
        for scene in load_sample("shapes", n=n, start=start, **options):
            foils = [scene.foils[k].caption for k in rng.permutation(list(kinds)) if k in scene.foils]
            match = next((c for c in foils if c in drawn), None)
            if match is not None and len(pairs) < n:
                pairs.append(PreferencePair(scene.caption, scene.image, drawn[match], 1.0,
                                            f"shapes {split} scene {scene.index} vs '{match}'"))
        start += n
    if len(pairs) < n:
        raise UserError(f"only {len(pairs)} of {n} shapes scenes had a drawn foil; raise pool or lower n")
    return pairs


def shape_swap_pairs(n: int, seed: int = 0, split: str = "train", image_size: int = 32) -> list[PreferencePair]:
    """``n`` one-object shapes scenes: chosen = the scene, rejected = the same scene redrawn with its object in the
    shape foil's shape (``wb_shapes.api.shape_counterfactual``: same background, colour and size; the object may
    sit elsewhere), a harder negative than another scene. Swaps to a held-out colour-shape combination are skipped."""
    from wb_shapes.api import shape_counterfactual
    from workbench.api import load_sample

    if n < 1:
        raise UserError(f"n={n}: ask for at least one pair")
    pairs: list[PreferencePair] = []
    start = 0
    while len(pairs) < n:
        for scene in load_sample("shapes", split=split, n=n, start=start, seed=seed, image_size=image_size,
                                 min_objects=1, max_objects=1):
            swapped = shape_counterfactual(scene, seed, image_size, 1, 1)
            if swapped is not None and len(pairs) < n:
                pairs.append(PreferencePair(scene.caption, scene.image, swapped.image, 1.0,
                                            f"shapes {split} scene {scene.index} vs '{swapped.caption}'"))
        start += n
    return pairs


def clip_cosine_reward(clip) -> Callable[[list[np.ndarray], str], list[float]]:
    """A CLIP's image/text cosine as a reward of pictures for a caption (``clip`` a
    :class:`workbench.api.LoadedClip`)."""
    import torch

    def score(images: list[np.ndarray], caption: str) -> list[float]:
        with torch.no_grad():
            return (clip.encode_image(images) @ clip.encode_text([caption]).T).squeeze(1).tolist()

    return score


def reward_ranked_pairs(pipe, captions: Sequence[str], reward: Callable[[list[np.ndarray], str], list[float]],
                        seed: int = 0, steps: int = 20, guidance: float = 5.0, size: int | None = None, k: int = 2,
                        min_margin: float = 0.0, per_caption: int = 1) -> list[PreferencePair]:
    """On-policy pairs: ``k`` samples of ``pipe`` per caption (seeds ``seed + k*i`` .. ``seed + k*i + k-1``), chosen
    = the one ``reward(images, caption)`` scores highest, rejected = the lowest; with ``per_caption`` = m > 1 also
    the 2nd best against the 2nd worst, .. the m-th best against the m-th worst (m <= k/2: no sample is in two
    pairs). A pair whose two rewards differ by less than ``min_margin`` is dropped, as a near-tie says little about
    which picture is better."""
    from wb_diffusion.sampling import sample_seeds

    if k < 2:
        raise UserError(f"k={k}: a pair needs at least two samples per caption")
    if not 1 <= per_caption <= k // 2:
        raise UserError(f"pairs_per_caption={per_caption}: must be 1..k/2 = {k // 2} with k={k}, so that no "
                        "sample is in two pairs")
    pairs = []
    for i, caption in enumerate(captions):
        images = sample_seeds(pipe, [seed + k * i + j for j in range(k)], steps, guidance, size or 0, size or 0,
                              prompt=caption)
        scores = reward(images, caption)
        ranked = sorted(range(k), key=scores.__getitem__, reverse=True)
        for best, worst in zip(ranked[:per_caption], reversed(ranked[-per_caption:])):
            if scores[best] - scores[worst] < min_margin or scores[best] == scores[worst]:
                continue
            pairs.append(PreferencePair(caption, images[best], images[worst], 1.0,
                                        f"samples of '{caption}' (reward {scores[best]:.3f} vs {scores[worst]:.3f})"))
    return pairs
