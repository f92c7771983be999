"""Recipes: an ordered list of run requests in YAML, validated against the task parameter models before anything runs.

The GUI exports what the user did as a recipe; ``workbench batch`` runs it headless; a batch folder keeps the
recipe next to its results. A recipe carries a ``version`` (its own format) and each step may carry the
``params_revision`` its parameters were written for; older parameters are upgraded with a note.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from workbench.core import devices
from workbench.core.atomic import atomic_write_text
from workbench.core.errors import RecipeError
from workbench.core.params import ParamError, ParamsUpgradeWarning, format_validation_error, validate_params
from workbench.core.registry import Registry, RegistryError
from workbench.core.runner import RunRequest
from workbench.core.sweeps import Sweep, expand_step

RECIPE_VERSION = 1


class Recipe(BaseModel):
    name: str = "recipe"
    steps: list[RunRequest]
    notes: list[str] = []


_STEP_KEYS = set(RunRequest.model_fields) - {"recipe_step", "sweep_group", "sweep_values"} | {"name", "sweep"}
_TOP_KEYS = {"name", "steps", "description", "version"}


def parse_recipe(text: str, source: str, registry: Registry, base: Path | None = None) -> Recipe:
    """Validate every step (each run of a sweep) against its task; globs are relative to ``base``."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise RecipeError(f"{source}: a recipe is a mapping with a non-empty 'steps' list")
    unknown_top = sorted(set(doc) - _TOP_KEYS)
    if unknown_top:
        raise RecipeError(f"{source}: unknown top-level key(s) {unknown_top}")
    version = doc.get("version", 1)
    if not isinstance(version, int) or version > RECIPE_VERSION:
        raise RecipeError(f"{source}: recipe version {version!r} is newer than this workbench reads "
                          f"({RECIPE_VERSION}); upgrade the workbench")
    steps, notes = [], []
    for i, raw in enumerate(doc["steps"], start=1):
        label = raw.get("name", f"#{i}") if isinstance(raw, dict) else f"#{i}"
        where = f"{source}: step {i} ({label}): "
        if not isinstance(raw, dict) or "task" not in raw:
            raise RecipeError(f"{where}each step needs a 'task'")
        unknown = sorted(set(raw) - _STEP_KEYS)
        if unknown:
            raise RecipeError(f"{where}unknown key(s) {unknown}; allowed: {sorted(_STEP_KEYS)}")
        for fields, name, values in expand_step(raw, str(label), base or Path.cwd(), where):
            fields["params"] = fields.get("params") or {}
            here = f"{source}: step {i} ({name}): " if values else where
            request = _validated(fields, name, str(label) if values else "", values, here, registry, notes)
            steps.append(request)
    return Recipe(name=str(doc.get("name", Path(source).stem)), steps=steps, notes=notes)


def _validated(fields: dict[str, Any], name: str, group: str, values: dict[str, Any], where: str,
               registry: Registry, notes: list[str]) -> RunRequest:
    try:
        request = RunRequest.model_validate({**fields, "recipe_step": name, "sweep_group": group,
                                             "sweep_values": values})
        spec = registry.runnable(request.task)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ParamsUpgradeWarning)
            validate_params(spec.params, request.params, where=where, revision=request.params_revision)
        notes += [str(w.message) for w in caught if issubclass(w.category, ParamsUpgradeWarning)]
        if request.backend not in ("auto", "torch", "onnx") or request.device not in ("auto", "cpu"):
            devices.resolve(spec, request.backend, request.device)
    except ValidationError as exc:
        raise RecipeError(where + format_validation_error(exc)) from None
    except (RegistryError, devices.DeviceError) as exc:
        raise RecipeError(f"{where}{exc}") from None
    except ParamError as exc:
        raise RecipeError(str(exc)) from None
    return request


def load_recipe(path: Path | str, registry: Registry) -> Recipe:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read the recipe ({exc})") from None
    return parse_recipe(text, str(path), registry, base=path.parent)


def recipe_yaml(name: str, requests: list[RunRequest]) -> str:
    steps = []
    for req in requests:
        step: dict[str, Any] = {"name": req.recipe_step or req.task, "task": req.task}
        for key in ("backend", "device", "seed", "params_revision"):
            default = RunRequest.model_fields[key].default
            if getattr(req, key) != default:
                step[key] = getattr(req, key)
        step["params"] = req.params
        steps.append(step)
    return yaml.safe_dump({"version": RECIPE_VERSION, "name": name, "steps": steps}, sort_keys=False)


def write_recipe(path: Path | str, name: str, requests: list[RunRequest]) -> Path:
    path = Path(path)
    atomic_write_text(path, recipe_yaml(name, requests))
    return path


def shard(steps: list[RunRequest], spec: str) -> list[RunRequest]:
    """``i/n`` (1-based): every n-th step starting at i, so n machines split a batch without overlap."""
    try:
        i, n = (int(p) for p in spec.split("/"))
    except ValueError:
        raise RecipeError(f"--shard {spec!r}: expected I/N with integers, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise RecipeError(f"--shard {spec!r}: I must be between 1 and N")
    return steps[i - 1::n]


def recipe_schema(registry: Registry) -> dict[str, Any]:
    """JSON Schema of a recipe file: each step's ``params`` are checked against its task's parameter model."""
    from pydantic.json_schema import models_json_schema

    specs = sorted(registry.tasks.values(), key=lambda s: s.qualified_id)
    models = list({spec.params: None for spec in specs})
    refs, defs = models_json_schema([(m, "validation") for m in models], ref_template="#/$defs/{model}")
    common = {
        "name": {"type": "string"}, "backend": {"type": "string"}, "device": {"type": "string"},
        "seed": RunRequest.model_json_schema()["properties"]["seed"],
        "execution": {"enum": ["auto", "inproc", "worker"]}, "params_revision": {"type": ["integer", "null"]},
        "sweep": Sweep.model_json_schema(),
    }
    steps = [{"type": "object", "title": spec.title, "required": ["task"], "additionalProperties": False,
              "properties": {**common, "task": {"enum": [spec.id, spec.qualified_id]},
                             "params": refs[(spec.params, "validation")]}} for spec in specs]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Alignment Workbench recipe",
            "type": "object", "required": ["steps"], "additionalProperties": False,
            "properties": {"version": {"type": "integer", "maximum": RECIPE_VERSION}, "name": {"type": "string"},
                           "description": {"type": "string"},
                           "steps": {"type": "array", "minItems": 1, "items": {"oneOf": steps}}},
            "$defs": defs.get("$defs", {})}
