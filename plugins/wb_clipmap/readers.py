"""Image-caption pairs from a folder, CSV, JSONL or FOIL COCO JSON, with ground truth when the file has it.

Problems with single items (a bad JSON line, a caption file that is not UTF-8, an image without caption)
are collected as messages that name the file, and the rest is read; a file that cannot be read at all
(missing, not UTF-8, a CSV without its columns) raises :class:`PairsError` naming the file.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wb_clipmap.words import split_words
from workbench.api import IMAGE_SUFFIXES, UserError

CSV_REQUIRED = ("image", "caption")


class PairsError(UserError):
    """A pairs file that cannot be read at all; the message names the file and what to fix."""


@dataclass
class Pair:
    """One image and caption. Ground truth, when known: ``is_foil``, the misaligned word index into
    ``split_words(caption)`` (``foil_index``) or per-word 0/1 ``word_labels``; ``group`` is e.g. the foil kind;
    ``region`` is the box ``(x0, y0, x1, y1)`` in image pixels of what the misaligned word describes."""

    item: str
    caption: str
    image_path: str = ""
    image: np.ndarray | None = None
    is_foil: bool | None = None
    foil_index: int | None = None
    word_labels: list[int] | None = None
    group: str = ""
    region: tuple[float, float, float, float] | None = None

    @property
    def has_labels(self) -> bool:
        return self.is_foil is not None or self.word_labels is not None

    def labels(self) -> np.ndarray | None:
        """Per-word 0/1 misalignment labels (from ``word_labels`` or the foil index), None when unknown."""
        n = len(split_words(self.caption))
        if self.word_labels is not None:
            return np.asarray(self.word_labels[:n] + [0] * max(0, n - len(self.word_labels)), bool)
        if self.is_foil is None:
            return None
        out = np.zeros(n, bool)
        if self.is_foil and self.foil_index is not None and 0 <= self.foil_index < n:
            out[self.foil_index] = True
        return out


def row_pictures(pairs: list[Pair]) -> dict[str, list]:
    """The ``thumbnails`` and ``item_paths`` of a table whose rows are ``pairs`` (in that order), so clicking a row
    shows its image: the pair's own image when it has one (generated scenes), else its file."""
    return {"thumbnails": [np.zeros(0, np.uint8) if p.image is None else p.image for p in pairs],
            "item_paths": [p.image_path for p in pairs]}


@dataclass
class PairSet:
    pairs: list[Pair] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PairsError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise PairsError(f"{path}: not UTF-8 text (undecodable byte at offset {exc.start}); save it as UTF-8") \
            from None


def _resolve(image: str, root: Path) -> str:
    path = Path(image).expanduser()
    return str(path if path.is_absolute() else root / path)


def _optional_int(value, where: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: foil_index must be an integer, got {value!r}") from None


def _labels(value, where: str) -> list[int] | None:
    if value in (None, ""):
        return None
    items = value.split() if isinstance(value, str) else value
    try:
        return [int(v) for v in items]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: word_labels must be 0/1 per word, got {value!r}") from None


def _pair_from_record(record: dict, item: str, root: Path, where: str) -> Pair:
    if not isinstance(record, dict) or "image" not in record or "caption" not in record:
        raise ValueError(f"{where}: needs the keys 'image' and 'caption'")
    foil_index = _optional_int(record.get("foil_index"), where)
    labels = _labels(record.get("word_labels"), where)
    is_foil = record.get("is_foil")
    if is_foil in (None, "") and (foil_index is not None or labels is not None):
        is_foil = foil_index is not None and foil_index >= 0 or bool(labels and any(labels))
    elif isinstance(is_foil, str):
        is_foil = is_foil.strip().lower() in ("1", "true", "yes")
    return Pair(item=item, caption=str(record["caption"] or ""), image_path=_resolve(str(record["image"]), root),
                is_foil=None if is_foil in (None, "") else bool(is_foil),
                foil_index=foil_index if foil_index is None or foil_index >= 0 else None,
                word_labels=labels, group=str(record.get("group", "") or ""))


def read_jsonl(path: Path, image_root: Path | None = None) -> PairSet:
    """One JSON object per line: ``image``, ``caption`` and optionally ``foil_index`` (word index, -1 for a
    true caption), ``word_labels`` (0/1 per word), ``is_foil`` and ``group``."""
    out, root = PairSet(), image_root or path.parent
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            out.pairs.append(_pair_from_record(json.loads(line), f"{path.stem}:{number}", root, where))
        except json.JSONDecodeError as exc:
            out.problems.append(f"{where}: not valid JSON ({exc.msg}); line skipped")
        except ValueError as exc:
            out.problems.append(f"{exc}; line skipped")
    return out


def read_csv(path: Path, image_root: Path | None = None) -> PairSet:
    """A CSV with a header: ``image`` and ``caption`` columns, optional ``foil_index``/``word_labels``/``group``."""
    rows = list(csv.DictReader(_read_text(path).splitlines()))
    columns = list(rows[0].keys()) if rows else []
    missing = [c for c in CSV_REQUIRED if c not in columns]
    if missing:
        raise PairsError(f"{path}: missing column(s) {', '.join(missing)}; the header has {columns or 'nothing'} "
                         f"(needs {', '.join(CSV_REQUIRED)}, optional foil_index, word_labels, is_foil, group)")
    out, root = PairSet(), image_root or path.parent
    for number, row in enumerate(rows, 2):
        if None in row.values() or None in row:
            out.problems.append(f"{path}:{number}: {len(columns)} columns in the header but another number in "
                                "this row; row skipped")
            continue
        try:
            out.pairs.append(_pair_from_record(row, f"{path.stem}:{number}", root, f"{path}:{number}"))
        except ValueError as exc:
            out.problems.append(f"{exc}; row skipped")
    return out


def _locate(words: list[str], foil_word: str) -> int | None:
    target = [w.lower() for w in split_words(foil_word)]
    lowered = [w.lower() for w in words]
    for i in range(len(lowered) - len(target) + 1):
        if target and lowered[i:i + len(target)] == target:
            return i
    return None


def read_foil_json(path: Path, image_root: Path | None = None) -> PairSet:
    """The FOIL COCO format: ``images`` (id, file_name) and ``annotations`` (image_id, caption, foil_word with
    ``ORIG`` for true captions, target_word). The foil word's index is found in the caption."""
    try:
        doc = json.loads(_read_text(path))
        names = {img["id"]: img["file_name"] for img in doc["images"]}
        annotations = doc["annotations"]
    except json.JSONDecodeError as exc:
        raise PairsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise PairsError(f"{path}: JSON nested too deeply to be a FOIL COCO file") from None
    except (KeyError, TypeError) as exc:
        raise PairsError(f"{path}: not a FOIL COCO file (needs 'images' with id/file_name and 'annotations'; "
                         f"missing {exc})") from None
    out, root = PairSet(), image_root or path.parent
    for i, ann in enumerate(annotations):
        where = f"{path}: annotation {i}"
        if ann.get("image_id") not in names or "caption" not in ann:
            out.problems.append(f"{where}: no caption or unknown image_id {ann.get('image_id')!r}; skipped")
            continue
        foil_word = str(ann.get("foil_word", "ORIG")).strip()
        is_foil = bool(ann.get("foil", foil_word.upper() != "ORIG"))
        index = _locate(split_words(ann["caption"]), foil_word) if is_foil else None
        if is_foil and index is None:
            out.problems.append(f"{where}: foil word {foil_word!r} not found in the caption; kept without location")
        out.pairs.append(Pair(item=str(ann.get("id", i)), caption=ann["caption"].strip(),
                              image_path=str(root / names[ann["image_id"]]), is_foil=is_foil, foil_index=index,
                              group=str(ann.get("target_word", "")) if is_foil else "orig"))
    return out


def read_folder(folder: Path) -> PairSet:
    """Images with a caption in a same-named ``.txt`` file next to them (``cat.jpg`` + ``cat.txt``)."""
    out = PairSet()
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise PairsError(f"{folder}: no image files (expected images with same-named .txt caption files)")
    for image in images:
        text = image.with_suffix(".txt")
        if not text.is_file():
            out.problems.append(f"{image}: no caption file {text.name}; skipped")
            continue
        try:
            caption = _read_text(text).strip()
        except PairsError as exc:
            out.problems.append(f"{exc}; skipped")
            continue
        if not caption:
            out.problems.append(f"{text}: empty caption; skipped")
            continue
        out.pairs.append(Pair(item=image.stem, caption=caption, image_path=str(image)))
    return out


def read_pairs(source: str | Path, image_root: str | Path = "") -> PairSet:
    """Dispatch on what ``source`` is: a folder, ``.csv``, ``.jsonl`` or a FOIL COCO ``.json``."""
    path = Path(source).expanduser()
    root = Path(image_root).expanduser() if str(image_root) else None
    if path.is_dir():
        return read_folder(path)
    if not path.exists():
        raise PairsError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    readers = {".csv": read_csv, ".jsonl": read_jsonl, ".json": read_foil_json}
    if suffix in readers:
        found = readers[suffix](path, root)
        if not found.pairs and not found.problems:
            raise PairsError(f"{path}: holds no image-caption pairs")
        return found
    raise PairsError(f"{path}: unknown pairs format {suffix!r}; give a folder, .csv, .jsonl or FOIL COCO .json")
