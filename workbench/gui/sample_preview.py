"""Turn whatever a sample world's loader returns into results the views can show (no Qt here).

Loaders return plugin-defined objects (dataclasses, dicts, arrays); the preview lists their fields and
shows the first images of each image-like array, without knowing the world by name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from workbench.core.results import ImageGrid, MetricsTable, Result


def _fields(data: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    if isinstance(data, dict):
        return dict(data)
    return {"data": data}


def _flatten(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _as_images(array: np.ndarray) -> list[np.ndarray] | None:
    """(n, 1|3, h, w), (n, h, w, 3) or (n, h, w) arrays with h, w >= 8 are image stacks."""
    a = np.asarray(array)
    if a.ndim == 4 and a.shape[1] in (1, 3) and min(a.shape[2:]) >= 8:
        a = np.moveaxis(a, 1, -1)
    elif not (a.ndim == 4 and a.shape[-1] == 3 and min(a.shape[1:3]) >= 8) and not (a.ndim == 3 and
                                                                                      min(a.shape[1:]) >= 8):
        return None
    a = a[..., 0] if a.ndim == 4 and a.shape[-1] == 1 else a
    if a.dtype != np.uint8:
        lo, hi = float(a.min()), float(a.max())
        a = ((a - lo) / ((hi - lo) or 1.0) * 255).astype(np.uint8)
    return list(a)


def preview_results(sample_id: str, title: str, data: Any, per_array: int = 8) -> list[Result]:
    fields = _flatten(_fields(data))
    rows = []
    images: list[np.ndarray] = []
    captions: list[str] = []
    for name, value in fields.items():
        if isinstance(value, np.ndarray):
            rows.append([name, "array", "x".join(map(str, value.shape)), str(value.dtype)])
            stack = _as_images(value)
            if stack:
                images += stack[:per_array]
                captions += [f"{name}[{i}]" for i in range(min(per_array, len(stack)))]
        else:
            size = len(value) if hasattr(value, "__len__") else ""
            rows.append([name, type(value).__name__, str(size), repr(value)[:60]])
    out: list[Result] = [MetricsTable(name=f"sample-{sample_id}-fields", title=f"{title}: contents",
                                      columns=["field", "type", "shape/len", "dtype/value"], rows=rows)]
    if images:
        out.append(ImageGrid(name=f"sample-{sample_id}-images", title=f"{title}: first images per array",
                             images=images, captions=captions, ncols=per_array))
    return out
