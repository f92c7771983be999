"""Parameter handling shared by the CLI, recipes and the GUI form: validation with messages that name the key."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from workbench.core.errors import ParamError


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


def validate_params(model: type[BaseModel], values: dict[str, Any], where: str = "") -> BaseModel:
    """Validate ``values`` against ``model``; unknown keys are errors, not ignored."""
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


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["k=v", ...]`` from the command line; values are read as YAML scalars/lists (``3``, ``true``, ``[1,2]``)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"--set {pair!r}: expected KEY=VALUE")
        try:
            values[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            values[key.strip()] = raw
    return values


def jsonable_params(params: BaseModel) -> dict[str, Any]:
    return params.model_dump(mode="json")
