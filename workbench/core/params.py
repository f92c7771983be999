"""Parameter handling shared by the CLI, recipes, run records and the GUI form.

- Validation with messages that name the key.
- Revisions (like CellProfiler's setting revisions): a parameter model carries ``revision`` and the renames or
  removals of earlier revisions; values stored by an older revision (run.json, recipes) are upgraded with a
  message saying what changed, and values from a newer revision than the installed plugin's are refused.
- Typed ``--set KEY=VALUE``: the string is read by the field's own type, so ``0012`` stays ``"0012"`` for a
  text field and ``yes`` stays ``"yes"``; numbers, booleans, ``null`` and lists are parsed only where the field
  takes them.
"""

from __future__ import annotations

import json
import re
import types
import typing
import warnings
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from workbench.core.errors import ParamError


class ParamsUpgradeWarning(UserWarning):
    """Stored parameters were written for an older revision of a task's parameters and were upgraded."""


class VersionedParams(BaseModel):
    """Base of task parameter models: unknown keys are errors; ``revision`` and the upgrade table say how
    parameters stored by earlier revisions map onto this one.

    ``renamed = {"old": (revision, "new")}``: ``old`` became ``new`` in ``revision``.
    ``removed = {"old": (revision, "why")}``: ``old`` was dropped in ``revision`` (its value is ignored).
    Override :meth:`upgrade_step` for changes that are more than a rename. The validator is built on first
    use (``defer_build``), so listing plugins reads the fields without paying for every model's schema.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    revision: ClassVar[int] = 1
    renamed: ClassVar[dict[str, tuple[int, str]]] = {}
    removed: ClassVar[dict[str, tuple[int, str]]] = {}

    @classmethod
    def upgrade_step(cls, values: dict[str, Any], to_revision: int) -> dict[str, Any]:
        """Values of revision ``to_revision - 1`` brought to ``to_revision`` beyond renames and removals."""
        return values


def params_revision(model: type[BaseModel]) -> int:
    return int(getattr(model, "revision", 1))


def upgrade_params(model: type[BaseModel], values: dict[str, Any], revision: int | None,
                   where: str = "") -> tuple[dict[str, Any], list[str]]:
    """Bring ``values`` stored at ``revision`` (None: unknown, e.g. a hand-written recipe) to the model's revision.

    Renamed and removed keys are recognised whatever the stored revision says; the notes say what changed.
    """
    current = params_revision(model)
    if revision is not None and revision > current:
        raise ParamError(f"{where}parameters were written for revision {revision} of {model.__name__}, but the "
                         f"installed plugin has revision {current}; upgrade the plugin")
    renamed: dict[str, tuple[int, str]] = getattr(model, "renamed", {})
    removed: dict[str, tuple[int, str]] = getattr(model, "removed", {})
    values = dict(values)
    notes = []
    for old, (rev, new) in renamed.items():
        if old in values:
            if new in values:
                raise ParamError(f"{where}both {old!r} and its new name {new!r} are given; keep {new!r}")
            values[new] = values.pop(old)
            notes.append(f"{where}parameter {old!r} was renamed to {new!r} (revision {rev}); update the recipe")
    for old, (rev, why) in removed.items():
        if old in values:
            values.pop(old)
            notes.append(f"{where}parameter {old!r} was removed in revision {rev} and is ignored: {why}")
    upgrade_step = getattr(model, "upgrade_step", None)
    if upgrade_step is not None:
        for rev in range((revision or current) + 1, current + 1):
            values = upgrade_step(values, rev)
    return values, notes


def format_validation_error(exc: ValidationError, where: str = "") -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(parameters)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown parameter"
        parts.append(f"{where}{key}: {msg}" + (f" (got {err['input']!r})" if "input" in err and
                                               err["type"] != "extra_forbidden" else ""))
    return "; ".join(parts)


def validate_params(model: type[BaseModel], values: dict[str, Any], where: str = "",
                    revision: int | None = None) -> BaseModel:
    """Upgrade then validate ``values`` against ``model``; unknown keys are errors, not ignored.

    Upgrade notes are issued as :class:`ParamsUpgradeWarning` (the CLI prints them; run logs keep them).
    """
    if not isinstance(values, dict):
        raise ParamError(f"{where}parameters must be a mapping of names to values, got {type(values).__name__}")
    values, notes = upgrade_params(model, values, revision, where)
    for note in notes:
        warnings.warn(note, ParamsUpgradeWarning, stacklevel=2)
    known = set(model.model_fields)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParamError(
            f"{where}unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}"
        )
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ParamError(format_validation_error(exc, where)) from None


def _allows_none(annotation: Any) -> bool:
    return annotation is None or type(None) in typing.get_args(annotation)


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation) if a is not type(None))
    return origin in (list, tuple, set, frozenset)


_INTEGER = re.compile(r"[+-]?[0-9_]+")


def coerce_value(annotation: Any, raw: str, key: str) -> Any:
    """Read the command-line string ``raw`` as the field type ``annotation`` wants it.

    The string itself is tried first (pydantic's lax mode turns ``"3"`` into 3 for an int and ``"yes"`` into
    True for a bool, and keeps ``"0012"`` for a str); ``null``/``none``/``~`` give None where None is allowed;
    lists take ``[a, b]`` (YAML/JSON) or ``a,b``; only then is the string read as YAML.
    """
    import yaml

    adapter = TypeAdapter(annotation)
    text = raw.strip()
    if text.lower() in ("null", "none", "~") and _allows_none(annotation):
        return None
    if _is_list(annotation):
        if text.startswith("["):
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ParamError(f"--set {key}: {raw!r} is not a list ({exc.problem or exc})") from None
        return [part.strip() for part in text.split(",") if part.strip()] if text else []
    try:
        value = adapter.validate_python(raw)
    except ValidationError:
        try:
            loaded = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            return raw
        if isinstance(loaded, float):  # "0." for an int field: refused, not rounded by lax validation
            try:
                adapter.validate_python(loaded, strict=True)
            except ValidationError:
                return raw
        return loaded
    if type(value) is int and not _INTEGER.fullmatch(text):  # lax mode reads "0.0" as 0: refused, not rounded
        raise ParamError(f"--set {key}: {raw!r} is not a whole number")
    return raw


def parse_assignments(pairs: list[str], model: type[BaseModel] | None = None) -> dict[str, Any]:
    """``["k=v", ...]`` from the command line, each value read by its field's type (see :func:`coerce_value`).

    Without a model (or for a key the model lacks, which validation then reports), values are kept as strings.
    """
    fields = model.model_fields if model is not None else {}
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamError(f"--set {pair!r}: expected KEY=VALUE")
        info = fields.get(key)
        values[key] = coerce_value(info.annotation, raw, key) if info is not None else raw
    return values


def jsonable_params(params: BaseModel) -> dict[str, Any]:
    return params.model_dump(mode="json")


def params_schema(model: type[BaseModel]) -> dict[str, Any]:
    """JSON Schema of a parameter model, with its revision (editors validate recipes with it)."""
    schema = model.model_json_schema()
    schema["x-revision"] = params_revision(model)
    return schema


def describe_field(name: str, info) -> dict[str, Any]:
    """One parameter for ``run TASK --help`` and ``plugins --json``: type, default, range, choices, description."""
    schema = TypeAdapter(info.annotation).json_schema()
    choices = list(typing.get_args(info.annotation)) if typing.get_origin(info.annotation) is typing.Literal else \
        schema.get("items", {}).get("enum") or schema.get("enum")
    bounds = {}
    for meta in info.metadata:
        for attr, label in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "min length"),
                            ("max_length", "max length")):
            if getattr(meta, attr, None) is not None:
                bounds[label] = getattr(meta, attr)
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    return {"name": name, "type": _type_name(info.annotation), "default": json.loads(json.dumps(default,
            default=str)), "required": info.is_required(), "choices": choices, "range": bounds,
            "description": info.description or ""}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "choice"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))
