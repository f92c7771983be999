"""Result types: data only. Compute produces them, renderers (headless and Qt) draw them.

Every result serialises to ``<name>.json`` plus ``<name>.npz`` (its arrays) and loads back by kind, so a
run directory is readable without the plugin that produced it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from workbench.core.atomic import atomic_write_bytes, atomic_write_text

RESULT_TYPES: dict[str, type[Result]] = {}


@dataclass
class Result:
    """Base of all results. ``name`` is unique within a run; yielding the same name again replaces it."""

    name: str
    title: str = ""
    kind: ClassVar[str] = "result"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RESULT_TYPES[cls.kind] = cls

    def save(self, directory: Path) -> list[Path]:
        """Write ``<name>.json`` and, when the result holds arrays, ``<name>.npz``; atomically."""
        arrays: dict[str, np.ndarray] = {}
        payload = {f.name: _flatten(getattr(self, f.name), f.name, arrays) for f in dataclasses.fields(self)}
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        if arrays:
            npz = directory / f"{self.name}.npz"
            import io

            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            atomic_write_bytes(npz, buf.getvalue())
            written.append(npz)
        doc = directory / f"{self.name}.json"
        atomic_write_text(doc, json.dumps({"kind": self.kind, "fields": payload}, indent=1))
        written.append(doc)
        return written

    @staticmethod
    def load(json_path: Path) -> Result:
        """Load a result written by :meth:`save`; the kind selects the class."""
        doc = json.loads(Path(json_path).read_text())
        cls = RESULT_TYPES.get(doc["kind"])
        if cls is None:
            raise ValueError(f"{json_path}: unknown result kind {doc['kind']!r}")
        npz_path = Path(json_path).with_suffix(".npz")
        arrays = dict(np.load(npz_path, allow_pickle=False)) if npz_path.exists() else {}
        values = {k: _unflatten(v, arrays) for k, v in doc["fields"].items()}
        return cls(**values)


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
    """A table of numbers and labels (metrics, per-item scores). Rows are lists matching ``columns``."""

    kind: ClassVar[str] = "metrics"
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    notes: str = ""

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


@dataclass
class ScoreSet(Result):
    """Detector scores per sample set: ``scores[detector][set] -> (n,)``. Higher means more in-distribution."""

    kind: ClassVar[str] = "scores"
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    id_set: str = "id"
    groups: dict[str, str] = field(default_factory=dict)

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
    """A map over an image. ``signed`` maps use a diverging scale centred at zero."""

    kind: ClassVar[str] = "heatmap"
    image: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 3), np.uint8))
    heat: np.ndarray = field(default_factory=lambda: np.zeros((1, 1)))
    signed: bool = False
    label: str = ""


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
    """Two point clouds, the estimated 4x4 transform, correspondences ``(k, 2)`` and their inlier mask."""

    kind: ClassVar[str] = "registration"
    source: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    target: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))
    correspondences: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    inliers: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    truth: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    status: str = "ok"
