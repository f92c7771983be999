"""What kind of editor each field of a task's pydantic parameter model needs (no Qt here).

The form is generated from the model alone: numbers with their ``ge/gt/le/lt`` range, ``Literal`` and
``Enum`` choices, booleans, path-like strings with pickers, lists of choices as checkable lists, lists of
path-like strings as path lists, and anything else (other lists, dicts) as YAML text.

A string (or list of strings) is a path when the model says so, per field with
``json_schema_extra={"path": "file"}`` (or ``"dir"``; ``""`` for "not a path") or for the model with
``json_schema_extra={"paths": {"image": "file", "data": "dir"}}``; unmarked, a ``Path`` type or the name
decides (``*path*``, ``*file*``, ``*checkpoint*``, ``*weights*``, ``*resume*`` pick a file; ``*dir*``,
``*folder*``, ``*root*`` a folder). A string marked ``{"widget": "boxes", "image_field": "image"}`` is a
boxes file drawn with the mouse over the image chosen in field ``image``.

A model may group its fields into boxes: per field with ``Field(..., json_schema_extra={"group": "Optimiser"})``
or for the whole model with ``model_config = ConfigDict(json_schema_extra={"groups": {"Optimiser": ["lr", ...]}})``.
Ungrouped fields come first; groups follow in the order their first field appears. A group titled "Advanced"
starts collapsed.

A field that applies only to some choices says so, per field with
``json_schema_extra={"show_when": {"method": ["sc2pcr"]}}`` or for the model with
``json_schema_extra={"show_when": {"sc2_k1": {"method": ["sc2pcr"]}}}``: it is hidden (and left at its default)
unless every named field has one of the listed values (for a list field: contains one of them); a rule naming a
field the model lacks is ignored.
"""

from __future__ import annotations

import dataclasses
import enum
import pathlib
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from workbench.core.params import format_validation_error

EditorKind = Literal["bool", "boxes", "choice", "choices", "int", "float", "path-file", "path-dir", "paths-file",
                     "paths-dir", "text", "yaml"]
PathKind = Literal["file", "dir", ""]
_DIR_WORDS = ("dir", "folder", "root")
_FILE_WORDS = ("path", "file", "checkpoint", "weights", "resume")


@dataclass(frozen=True)
class FieldPlan:
    """One form row: the editor to build, its choices/range, default and help text."""

    name: str
    kind: EditorKind
    label: str
    required: bool
    default: Any = None
    optional: bool = False
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    help: str = ""
    group: str = ""
    show_when: dict[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
    image_field: str = ""

    def applies(self, values: dict[str, Any]) -> bool:
        """Whether the field matters with the form's current ``values`` (see ``show_when``)."""
        for name, allowed in self.show_when.items():
            if name not in values:  # a rule about a field this form does not have (or leaves empty) holds
                continue
            value = values[name]
            chosen = value if isinstance(value, (list, tuple, set)) else [value]
            if not any(v in allowed for v in chosen):
                return False
        return True

    @property
    def range_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        lo = "" if self.low is None else f"{self.low:g} {'<' if self.low_open else '≤'} "
        hi = "" if self.high is None else f" {'<' if self.high_open else '≤'} {self.high:g}"
        return f"{lo}value{hi}"


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for meta in info.metadata:
        for attr, key, is_open in (("ge", "low", False), ("gt", "low", True), ("le", "high", False),
                                   ("lt", "high", True)):
            value = getattr(meta, attr, None)
            if value is not None:
                out[key] = float(value)
                out[f"{key}_open"] = is_open
    return out


def _path_kind(name: str, annotation: Any, declared: PathKind | None) -> PathKind:
    """"file", "dir" or "" (no path) for a string field: the model's marker, else the type, else the name."""
    if declared is not None:
        return declared
    lowered = name.lower()
    if any(w in lowered for w in _DIR_WORDS):
        return "dir"
    is_path_type = isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath)
    return "file" if is_path_type or any(w in lowered for w in _FILE_WORDS) else ""


def plan_field(name: str, info: FieldInfo, path: PathKind | None = None) -> FieldPlan:
    """The editor of one field; ``path`` is the model's path marker for it (None: decide by type and name)."""
    annotation, optional = _unwrap_optional(info.annotation)
    required = info.is_required()
    default = None if info.default is PydanticUndefined else info.default
    if info.default_factory is not None:
        default = info.default_factory()
    common = {"name": name, "label": name.replace("_", " "), "required": required, "default": default,
              "optional": optional, "help": info.description or ""}
    lowered = name.lower()
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("widget") == "boxes" and annotation is str:
        return FieldPlan(kind="boxes", image_field=str(extra.get("image_field", "")), **common)
    if annotation is bool:
        return FieldPlan(kind="bool", **common)
    if typing.get_origin(annotation) in (list, tuple, set) and len(typing.get_args(annotation)) == 1:
        item = typing.get_args(annotation)[0]
        if typing.get_origin(item) is Literal:
            return FieldPlan(kind="choices", choices=typing.get_args(item), **common)
        if isinstance(item, type) and issubclass(item, enum.Enum):
            values = [v.value if isinstance(v, enum.Enum) else v for v in (default or [])]
            return FieldPlan(kind="choices", choices=tuple(m.value for m in item), **{**common, "default": values})
        is_path_item = isinstance(item, type) and issubclass(item, pathlib.PurePath)
        images = path is None and "images" in lowered and not any(w in lowered for w in _DIR_WORDS)
        kind = _path_kind(name, item, "file" if images else path)
        if kind and (is_path_item or item is str):
            return FieldPlan(kind=f"paths-{kind}", **{**common, "default": [str(v) for v in (default or [])]})
    if typing.get_origin(annotation) is Literal:
        return FieldPlan(kind="choice", choices=typing.get_args(annotation), **common)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return FieldPlan(kind="choice", choices=tuple(m.value for m in annotation),
                         **{**common, "default": default.value if isinstance(default, enum.Enum) else default})
    if annotation is int:
        return FieldPlan(kind="int", **common, **_bounds(info))
    if annotation is float:
        return FieldPlan(kind="float", **common, **_bounds(info))
    is_path_type = isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath)
    if annotation is str or is_path_type:
        kind = _path_kind(name, annotation, path)
        if kind:
            return FieldPlan(kind=f"path-{kind}", **{**common, "default": None if default is None else str(default)})
        return FieldPlan(kind="text", **common)
    return FieldPlan(kind="yaml", **common)


def _groups(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> group title, from the model's ``groups`` and each field's ``group``."""
    out: dict[str, str] = {}
    extra = model.model_config.get("json_schema_extra")
    if isinstance(extra, dict) and isinstance(extra.get("groups"), dict):
        for title, names in extra["groups"].items():
            for name in names:
                out[str(name)] = str(title)
    for name, info in model.model_fields.items():
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("group"):
            out[name] = str(info.json_schema_extra["group"])
    return out


def _show_when(model: type[BaseModel]) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Field name -> {controlling field: allowed values}, from the model's and each field's ``show_when``."""
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    extra = model.model_config.get("json_schema_extra")
    declared = extra.get("show_when") if isinstance(extra, dict) else None
    for name, rule in (declared or {}).items():
        out[str(name)] = {str(k): tuple(v) for k, v in rule.items()}
    for name, info in model.model_fields.items():
        if isinstance(info.json_schema_extra, dict) and isinstance(info.json_schema_extra.get("show_when"), dict):
            out[name] = {str(k): tuple(v) for k, v in info.json_schema_extra["show_when"].items()}
    return out


def path_markers(model: type[BaseModel]) -> dict[str, PathKind]:
    """Field name -> "file" / "dir" / "" as the model marks it (its ``paths`` and each field's ``path``)."""
    extra = model.model_config.get("json_schema_extra")
    out = {str(k): v for k, v in (extra.get("paths") or {}).items()} if isinstance(extra, dict) else {}
    for name, info in model.model_fields.items():
        if isinstance(info.json_schema_extra, dict) and "path" in info.json_schema_extra:
            out[name] = info.json_schema_extra["path"]
    return out


def plan_form(model: type[BaseModel]) -> list[FieldPlan]:
    groups, shown, paths = _groups(model), _show_when(model), path_markers(model)
    return [dataclasses.replace(plan_field(name, info, paths.get(name)), group=groups.get(name, ""),
                                show_when=shown.get(name, {}))
            for name, info in model.model_fields.items()]


def parse_text(plan: FieldPlan, text: str) -> tuple[bool, Any]:
    """Raw editor text -> (present, value). Empty text means "use the default" (or None when optional)."""
    text = text.strip()
    if not text:
        if plan.optional and not plan.required:
            return plan.default is not None, None
        return False, None
    if plan.kind == "yaml":
        try:
            return True, yaml.safe_load(text)
        except yaml.YAMLError:
            return True, text
    return True, text


def display_text(plan: FieldPlan, value: Any) -> str:
    if value is None:
        return ""
    if plan.kind == "yaml":
        return yaml.safe_dump(value, default_flow_style=True).strip()
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def field_errors(model: type[BaseModel], values: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Validate ``values``: per-field messages (for the labels next to fields) and the summary line."""
    unknown = sorted(set(values) - set(model.model_fields))
    if unknown:
        return {k: "unknown parameter" for k in unknown}, f"unknown parameter(s) {', '.join(unknown)}"
    try:
        model.model_validate(values)
    except ValidationError as exc:
        per_field: dict[str, str] = {}
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            per_field.setdefault(key, err["msg"])
        return per_field, format_validation_error(exc)
    return {}, ""
