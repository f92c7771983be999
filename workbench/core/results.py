"""Result types: data only. Compute produces them, renderers (headless and Qt) draw them.

Every result serialises to ``<name>.json`` plus ``<name>.npz`` (its arrays) and loads back by kind. The kind's
class is found through the registry (a plugin registers its own kinds once), so a run directory is readable in
any process; a kind nobody registered loads as a :class:`GenericResult` that keeps every field readable.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from workbench.core.atomic import atomic_write_bytes, atomic_write_text
from workbench.core.errors import UserError

RESULT_SCHEMA = 1
RESULT_TYPES: dict[str, type[Result]] = {}
KindResolver = Callable[[str], "type[Result] | None"]


class ResultFileError(UserError):
    """A result file that cannot be read: corrupt, or written by a newer workbench."""


@dataclass
class Result:
    """Base of all results. ``name`` is unique within a run; yielding the same name again replaces it."""

    name: str
    title: str = ""
    kind: ClassVar[str] = "result"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RESULT_TYPES.setdefault(cls.kind, cls)

    def fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def save(self, directory: Path) -> list[Path]:
        """Write ``<name>.json`` and, when the result holds arrays, ``<name>.npz``; atomically."""
        arrays: dict[str, np.ndarray] = {}
        payload = {k: _flatten(v, k, arrays) for k, v in self.fields().items()}
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        if arrays:
            npz = directory / f"{self.name}.npz"
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            atomic_write_bytes(npz, buf.getvalue())
            written.append(npz)
        doc = directory / f"{self.name}.json"
        atomic_write_text(doc, json.dumps({"schema_version": RESULT_SCHEMA, "kind": self.kind, "fields": payload},
                                          indent=1))
        written.append(doc)
        return written

    @staticmethod
    def load(json_path: Path, resolve: KindResolver | None = None) -> Result:
        """Load a result written by :meth:`save`. ``resolve`` maps a kind to its class (default: the registry)."""
        json_path = Path(json_path)
        try:
            doc = json.loads(json_path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or "kind" not in doc or "fields" not in doc:
                raise ValueError("expected an object with 'kind' and 'fields'")
            if doc.get("schema_version", 0) > RESULT_SCHEMA:
                raise ResultFileError(f"{json_path}: result schema {doc['schema_version']} is newer than this "
                                      f"workbench reads ({RESULT_SCHEMA}); upgrade the workbench")
            if not isinstance(doc["fields"], dict):
                raise ValueError("'fields' must be an object")
            npz_path = json_path.with_suffix(".npz")
            arrays = dict(np.load(npz_path, allow_pickle=False)) if npz_path.exists() else {}
            values = {k: _unflatten(v, arrays) for k, v in doc["fields"].items()}
        except ResultFileError:
            raise
        except (OSError, ValueError, KeyError, EOFError, RecursionError, zipfile.BadZipFile) as exc:
            raise ResultFileError(f"{json_path}: unreadable result file ({type(exc).__name__}: {exc})") from None
        cls = (resolve or resolve_kind)(doc["kind"])
        if cls is None:
            return GenericResult(name=values.get("name", json_path.stem), title=values.get("title", ""),
                                 original_kind=doc["kind"], values=values)
        try:
            return cls(**values)
        except TypeError as exc:
            raise ResultFileError(f"{json_path}: fields do not fit result kind {doc['kind']!r} ({exc})") from None


def resolve_kind(kind: str) -> type[Result] | None:
    """The class of ``kind``: a base kind, else the class its plugin registered (imported now if needed).

    A class that is imported but registered by no loaded plugin is used as it is; an unknown kind gives None.
    """
    cls = RESULT_TYPES.get(kind)
    if cls is not None and cls.__module__ == __name__:
        return cls
    from workbench.core.plugins import get_host
    from workbench.core.specs import resolve_entry

    spec = get_host().registry.kind(kind)
    if spec is None:
        return cls
    try:
        registered = resolve_entry(spec.cls)
    except Exception:
        return cls
    return registered if isinstance(registered, type) and issubclass(registered, Result) else cls


def _flatten(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {"__array__": path}
    if isinstance(value, dict):
        return {"__dict__": [[k, _flatten(v, f"{path}/{k}", arrays)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_flatten(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _unflatten(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict) and "__array__" in value:
        return arrays[value["__array__"]]
    if isinstance(value, dict) and "__dict__" in value:
        return {k: _unflatten(v, arrays) for k, v in value["__dict__"]}
    if isinstance(value, list):
        return [_unflatten(v, arrays) for v in value]
    return value


@dataclass
class MetricsTable(Result):
    """A table of numbers and labels (metrics, per-item scores). Rows are lists matching ``columns``.

    A table of items may carry each row's picture, so a viewer shows it when the row is clicked:
    ``thumbnails[i]`` a uint8 ``(h, w)`` or ``(h, w, 3)`` image (an empty array: none), or ``item_paths[i]``
    the row's image file ("" for none).
    """

    kind: ClassVar[str] = "metrics"
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    notes: str = ""
    thumbnails: list[np.ndarray] = field(default_factory=list)
    item_paths: list[str] = field(default_factory=list)

    def picture(self, row: int) -> np.ndarray | str | None:
        """The picture of row ``row``: its thumbnail, else its image file, else None."""
        if row < len(self.thumbnails) and np.asarray(self.thumbnails[row]).size:
            return np.asarray(self.thumbnails[row])
        return self.item_paths[row] if row < len(self.item_paths) and self.item_paths[row] else None

    def fields(self) -> dict[str, Any]:
        """Without the picture fields when the table has none: a plain table stays readable by older workbenches."""
        out = super().fields()
        for key in ("thumbnails", "item_paths"):
            if not out[key]:
                del out[key]
        return out

    @property
    def has_pictures(self) -> bool:
        return any(np.asarray(t).size for t in self.thumbnails) or any(self.item_paths)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


@dataclass
class ScoreSet(Result):
    """Detector scores per sample set: ``scores[detector][set] -> (n,)``. Higher means more in-distribution.

    Optionally the items behind the scores, so a viewer can show the picture of a row: ``thumbnails[set]`` a
    uint8 ``(n, h, w)`` or ``(n, h, w, 3)`` array, or ``item_paths[set]`` the n image files.
    """

    kind: ClassVar[str] = "scores"
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    id_set: str = "id"
    groups: dict[str, str] = field(default_factory=dict)
    thumbnails: dict[str, np.ndarray] = field(default_factory=dict)
    item_paths: dict[str, list[str]] = field(default_factory=dict)

    @property
    def detectors(self) -> list[str]:
        return list(self.scores)

    @property
    def ood_sets(self) -> list[str]:
        first = next(iter(self.scores.values()), {})
        return [s for s in first if s != self.id_set]


@dataclass
class ImageGrid(Result):
    """Images with captions, e.g. the most OOD-looking inputs or before/after pairs. uint8 HxW or HxWx3."""

    kind: ClassVar[str] = "image-grid"
    images: list[np.ndarray] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    ncols: int = 8


@dataclass
class Heatmap(Result):
    """A map over an image. ``signed`` maps use a diverging scale centred at zero.

    A map that explains a caption carries it as ``caption_words``, with ``caption_flags`` marking the words the
    method flags (shown highlighted).
    """

    kind: ClassVar[str] = "heatmap"
    image: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 3), np.uint8))
    heat: np.ndarray = field(default_factory=lambda: np.zeros((1, 1)))
    signed: bool = False
    label: str = ""
    caption_words: list[str] = field(default_factory=list)
    caption_flags: list[bool] = field(default_factory=list)


@dataclass
class TokenScores(Result):
    """Per-word scores of a caption, with flagged words and the threshold used to flag them."""

    kind: ClassVar[str] = "token-scores"
    tokens: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    flags: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    threshold: float = 0.0
    summary: dict[str, float] = field(default_factory=dict)


@dataclass
class Regions(Result):
    """Boxes ``(n, 4)`` as x0, y0, x1, y1 in pixels over an image, with labels and scores."""

    kind: ClassVar[str] = "regions"
    image: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 3), np.uint8))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    labels: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Curves(Result):
    """Named series over a shared x quantity: ``series[name] -> (2, n)`` rows x and y."""

    kind: ClassVar[str] = "curves"
    series: dict[str, np.ndarray] = field(default_factory=dict)
    x_label: str = "step"
    y_label: str = ""


@dataclass
class Registration(Result):
    """Two point clouds, the estimated 4x4 transform, correspondences ``(k, 2)`` and their inlier mask; ``truth``
    marks the true matches and ``truth_transform`` (empty when unknown) is the true pose, drawn for comparison."""

    kind: ClassVar[str] = "registration"
    source: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    target: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))
    correspondences: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    inliers: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    truth: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    status: str = "ok"
    truth_transform: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))


@dataclass
class EmbeddingScatter(Result):
    """Points already projected to 2-D ``(n, 2)`` with class ``labels`` (indices into ``classes``), and optional
    ``anchors`` ``(m, 2)`` (prototypes, centroids) with their own class indices."""

    kind: ClassVar[str] = "embedding-scatter"
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    classes: list[str] = field(default_factory=list)
    anchors: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    anchor_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    anchor_name: str = "anchors"
    x_label: str = ""
    y_label: str = ""


@dataclass
class HeatmapGrid(Result):
    """Several maps, e.g. one per token or per layer: ``heats[i]`` over ``images[i]`` (or ``images[0]`` for all).

    The maps stay data; opacity, colormap and scaling are the renderer's display options.
    """

    kind: ClassVar[str] = "heatmap-grid"
    images: list[np.ndarray] = field(default_factory=list)
    heats: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    signed: bool = False
    ncols: int = 4
    caption: str = ""

    def image_for(self, i: int) -> np.ndarray:
        return self.images[i] if len(self.images) > 1 else self.images[0]


@dataclass
class ImagePairs(Result):
    """Pairs of images of the same size (before | after, base | tuned, image | reconstruction), compared with a
    slider in the GUI and side by side in the report."""

    kind: ClassVar[str] = "image-pairs"
    left: list[np.ndarray] = field(default_factory=list)
    right: list[np.ndarray] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    left_label: str = "before"
    right_label: str = "after"


@dataclass
class GenericResult(Result):
    """A result whose kind no loaded plugin registers: its saved fields, readable and shown as a listing."""

    kind: ClassVar[str] = "generic"
    original_kind: str = ""
    values: dict[str, Any] = field(default_factory=dict)
