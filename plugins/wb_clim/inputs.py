"""Where boxes come from: a JSON box file with one image, COCO annotations, or the shapes scenes' ground truth.

Every problem is kept as a sentence that names the item (file, image, box or annotation id); bad boxes and
annotations are skipped and counted, never silently dropped. A box that sticks out of the image is clipped to it
(and said so); one entirely outside, of zero or negative area, or with non-finite coordinates is skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.api import ImageReadError, UserError, load_sample, read_image


@dataclass
class Item:
    """One image with its boxes (pixels, x0 y0 x1 y1), a name per box and, where known, a true label per box."""

    name: str
    image: np.ndarray | None = None
    image_path: str = ""
    boxes: list = field(default_factory=list)
    box_names: list[str] = field(default_factory=list)
    truth: list[str | None] = field(default_factory=list)


@dataclass
class Inputs:
    items: list[Item]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: int = 0
    given: int = 0
    categories: list[str] = field(default_factory=list)
    vocabulary: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def skip(self, message: str, count: int = 1) -> None:
        self.problems.append(message)
        self.skipped += count


def check_box(raw, height: int, width: int) -> tuple[tuple[float, float, float, float] | None, str]:
    """``(box, message)``: the box clipped to the image (message says so) or ``None`` with why it is unusable."""
    try:
        values = [float(v) for v in raw]
    except (TypeError, ValueError):
        return None, f"is not 4 numbers: {raw!r}"
    if len(values) != 4:
        return None, f"has {len(values)} numbers, not 4 (x0, y0, x1, y1): {raw!r}"
    if not all(math.isfinite(v) for v in values):
        return None, f"has non-finite coordinates (NaN or infinity): {values}"
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        return None, (f"has zero or negative area: {values} (width {x1 - x0:g}, height {y1 - y0:g}; boxes are "
                      "x0, y0, x1, y1 with x1 > x0 and y1 > y0)")
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return None, f"lies outside the {width}x{height} image: {values}"
    clipped = (max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height)))
    if clipped != (x0, y0, x1, y1):
        return clipped, f"sticks out of the {width}x{height} image: {values} was clipped to {list(clipped)}"
    return clipped, ""


def validate(inputs: Inputs) -> Inputs:
    """Read each item's image and check its boxes against it: unusable boxes and unreadable images are skipped."""
    kept: list[Item] = []
    for item in inputs.items:
        if item.image is None:
            try:
                item.image = read_image(item.image_path)
            except (ImageReadError, OSError, ValueError) as exc:
                inputs.skip(f"{item.name}: skipped its {len(item.boxes)} box(es): the image cannot be read ({exc})",
                            len(item.boxes))
                continue
        height, width = item.image.shape[:2]
        boxes, names, truth = [], [], []
        for raw, name, label in zip(item.boxes, item.box_names, item.truth):
            box, message = check_box(raw, height, width)
            if box is None:
                inputs.skip(f"{item.name}: {name} {message}; skipped")
                continue
            if message:
                inputs.notes.append(f"{item.name}: {name} {message}")
            boxes.append(box)
            names.append(name)
            truth.append(label)
        if boxes:
            kept.append(Item(item.name, item.image, item.image_path, boxes, names, truth))
    inputs.items = kept
    return inputs


def read_box_file(path: Path) -> list | dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such box file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable JSON box file ({exc})") from None
    return doc


def is_coco(doc) -> bool:
    return isinstance(doc, dict) and "annotations" in doc and "images" in doc


def boxes_from_list(doc, path: Path, image: str) -> Inputs:
    """``[{"box": [x0, y0, x1, y1], "label": "..."}, ...]`` (or ``{"boxes": [...]}``) for one image."""
    if isinstance(doc, dict) and "boxes" in doc:
        doc = doc["boxes"]
    if not isinstance(doc, list):
        raise UserError(f"{path}: expected a list of boxes [{{\"box\": [x0, y0, x1, y1]}}, ...] or COCO annotations "
                        "(images, annotations, categories)")
    if not image:
        raise UserError(f"{path}: a box list needs 'image', the picture the boxes are drawn on")
    inputs = Inputs(items=[], given=len(doc))
    item = Item(name=Path(image).name, image_path=image)
    for i, entry in enumerate(doc):
        name = f"box {i}"
        if isinstance(entry, dict) and "box" in entry:
            item.boxes.append(entry["box"])
            item.box_names.append(name)
            label = entry.get("label")
            item.truth.append(str(label) if label is not None else None)
        elif isinstance(entry, (list, tuple)):
            item.boxes.append(entry)
            item.box_names.append(name)
            item.truth.append(None)
        else:
            inputs.skip(f"{path.name}: {name} skipped: expected {{\"box\": [x0, y0, x1, y1]}}, got {entry!r}"[:200])
    inputs.items.append(item)
    return inputs


def boxes_from_coco(doc: dict, path: Path, image_root: str = "", image: str = "") -> Inputs:
    """COCO annotations: ``bbox`` is ``[x, y, width, height]``; annotations of unknown image or category ids are
    skipped (named by their id); ``categories`` give the default vocabulary."""
    root = Path(image_root).expanduser() if image_root else path.parent
    try:
        images = {im["id"]: im for im in doc["images"]}
        categories = {c["id"]: str(c["name"]) for c in doc.get("categories", [])}
        annotations = list(doc["annotations"])
    except (TypeError, KeyError) as exc:
        raise UserError(f"{path}: not COCO annotations: images need 'id' and 'file_name', categories 'id' and "
                        f"'name' ({type(exc).__name__}: {exc})") from None
    inputs = Inputs(items=[], given=len(annotations), categories=list(categories.values()))
    items: dict = {}
    for i, ann in enumerate(annotations):
        ann_id = ann.get("id", i) if isinstance(ann, dict) else i
        name = f"annotation {ann_id}"
        if not isinstance(ann, dict) or "bbox" not in ann:
            inputs.skip(f"{path.name}: {name} skipped: it has no 'bbox'")
            continue
        if ann.get("image_id") not in images:
            inputs.skip(f"{path.name}: {name} skipped: its image id {ann.get('image_id')!r} is not in 'images'")
            continue
        category = ann.get("category_id")
        if category is not None and category not in categories:
            inputs.skip(f"{path.name}: {name} skipped: its category id {category!r} is not in 'categories'")
            continue
        bbox = ann["bbox"]
        try:
            x, y, w, h = (float(v) for v in bbox)
            box = [x, y, x + w, y + h]
        except (TypeError, ValueError):
            box = bbox
        record = images[ann["image_id"]]
        key = ann["image_id"]
        if key not in items:
            file_name = str(record.get("file_name", ""))
            items[key] = Item(name=f"image {key} ({file_name})", image_path=str(root / file_name))
        items[key].boxes.append(box)
        items[key].box_names.append(name)
        items[key].truth.append(categories.get(category))
    chosen = list(items.values())
    if image:
        wanted = Path(image).name
        chosen = [it for it in chosen if Path(it.image_path).name == wanted]
        if not chosen:
            raise UserError(f"{path}: no annotated image is named {wanted!r} (give 'image' empty to score them all)")
        chosen[0].image_path = image
        inputs.given = len(chosen[0].boxes)
    inputs.items = chosen
    return inputs


def shapes_items(n: int, seed: int, image_size: int, min_objects: int, max_objects: int, split: str = "test",
                 start: int = 0) -> Inputs:
    """The shapes world's scenes with their ground-truth boxes and object labels."""
    if min_objects > max_objects:
        raise UserError(f"min_objects={min_objects} is larger than max_objects={max_objects}")
    world = load_sample("shapes", split=split, n=n, seed=seed, image_size=image_size, min_objects=min_objects,
                        max_objects=max_objects, start=start)
    items = [Item(name=f"{split}-{scene.index}", image=scene.image, boxes=[tuple(o.box) for o in scene.objects],
                  box_names=[f"object {j}" for j in range(len(scene.objects))],
                  truth=[o.label for o in scene.objects]) for scene in world]
    return Inputs(items=items, given=sum(len(it.boxes) for it in items), vocabulary=dict(world.vocabulary))


def shapes_vocabulary() -> dict[str, tuple[str, ...]]:
    return dict(load_sample("shapes", split="test", n=1).vocabulary)


def gather(image: str, boxes: str, image_root: str, n_scenes: int, seed: int, image_size: int, min_objects: int,
           max_objects: int) -> Inputs:
    """The items a scoring run works on; problems are collected, nothing is read twice."""
    if boxes:
        path = Path(boxes).expanduser()
        doc = read_box_file(path)
        inputs = boxes_from_coco(doc, path, image_root, image) if is_coco(doc) else boxes_from_list(doc, path, image)
    elif image:
        raise UserError("'image' needs 'boxes': a JSON file of boxes [{\"box\": [x0, y0, x1, y1]}, ...] or COCO "
                        "annotations")
    else:
        inputs = shapes_items(n_scenes, seed, image_size, min_objects, max_objects)
    return validate(inputs)
