"""Parameter sweeps in recipes: a step's ``sweep`` expands into one run per combination, with a readable name.

A sweep has up to three parts, all optional::

    sweep:
      grid: {knn_k: [10, 50], backend: [torch, onnx]}     # every combination (product)
      zip: {outlier_ratio: [0.5, 0.9], seed: [1, 2]}       # lists walked together (same length)
      glob: {weights: "runs/*/artifacts/model.safetensors"} # each matching file is a value (sorted)

Keys are task parameters or the run fields ``backend``, ``device`` and ``seed``. The runs of one sweep share a
``sweep_group`` (the step's name) and record their ``sweep_values``, so the report gathers them into one
comparison table and figure.
"""

from __future__ import annotations

import glob
import itertools
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.core.errors import RecipeError

RUN_FIELDS = ("backend", "device", "seed")


class Sweep(BaseModel):
    """A step's sweep: ``grid`` (product), ``zip`` (walked together) and ``glob`` (files as values)."""

    model_config = ConfigDict(extra="forbid")

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    glob: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Sweep:
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError(f"zip lists must have the same length, got {sorted(lengths)}")
        keys = [*self.grid, *self.zip, *self.glob]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"{dupes} appear in more than one part of the sweep")
        if any(not v for v in self.grid.values()):
            raise ValueError("a grid list is empty")
        return self


def _short(value: Any) -> str:
    if isinstance(value, str) and ("/" in value or "\\" in value):
        path = Path(value)
        return "/".join(path.parts[-2:]) if path.name in ("model.safetensors", "checkpoint.pt") else path.name
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def combinations(sweep: Sweep, base: Path) -> list[dict[str, Any]]:
    """The value sets of a sweep, in a stable order (grid and glob outer, zip inner)."""
    grid = dict(sweep.grid)
    for key, pattern in sweep.glob.items():
        matches = sorted(glob.glob(str(pattern if Path(pattern).is_absolute() else base / pattern),
                                   recursive=True))
        if not matches:
            raise RecipeError(f"sweep glob {key}: {pattern!r} matches no file (relative to {base})")
        grid[key] = matches
    outer = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else [{}]
    n = len(next(iter(sweep.zip.values()))) if sweep.zip else 0
    inner = [{k: v[i] for k, v in sweep.zip.items()} for i in range(n)] if sweep.zip else [{}]
    return [{**o, **i} for o in outer for i in inner]


def expand_step(raw: dict[str, Any], label: str, base: Path, where: str) -> list[tuple[dict[str, Any], str, dict]]:
    """``(step fields, run name, swept values)`` for each run of a recipe step (one when it has no sweep)."""
    spec = raw.get("sweep")
    fields = {k: v for k, v in raw.items() if k not in ("sweep", "name")}
    if spec is None:
        return [(fields, label, {})]
    try:
        sweep = Sweep.model_validate(spec)
    except ValueError as exc:
        raise RecipeError(f"{where}sweep: {exc}") from None
    runs = []
    for values in combinations(sweep, base):
        step = {**fields, "params": dict(fields.get("params") or {})}
        for key, value in values.items():
            if key in RUN_FIELDS:
                step[key] = value
            else:
                step["params"][key] = value
        name = f"{label} [" + ", ".join(f"{k}={_short(v)}" for k, v in values.items()) + "]"
        runs.append((step, name, values))
    return runs
