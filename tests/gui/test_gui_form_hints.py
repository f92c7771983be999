"""Every registered task's form hints are sound: groups and ``show_when`` rules name real fields and real choice
values, path markers are valid, string fields described as files or folders say whether they are paths, and a
model with many fields groups them (so a new plugin cannot bring back a flat 30-field form)."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ConfigDict, Field

from workbench.core.plugins import PluginHost
from workbench.gui.form_fields import FieldPlan, path_markers, plan_form

MAX_FLAT = 5  # a model with more fields than this declares groups
MAX_UNGROUPED = 6  # the key choices left outside every group
PATH_WORDS = re.compile(r"\b(file|folder|directory)\b")

_HOST = PluginHost()
TASKS = sorted(_HOST.registry.tasks.values(), key=lambda spec: spec.id)


def _model_extra(model: type[BaseModel]) -> dict:
    extra = model.model_config.get("json_schema_extra")
    return extra if isinstance(extra, dict) else {}


def _field_extra(model: type[BaseModel], name: str) -> dict:
    extra = model.model_fields[name].json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _choices(plan: FieldPlan) -> tuple:
    return (True, False) if plan.kind == "bool" else plan.choices


def hint_problems(model: type[BaseModel]) -> list[str]:
    """What is wrong with ``model``'s form hints (empty: nothing)."""
    fields, plans = set(model.model_fields), {p.name: p for p in plan_form(model)}
    problems = []
    for title, names in _model_extra(model).get("groups", {}).items():
        problems += [f"group {title!r} names unknown field {n!r}" for n in names if n not in fields]
    rules = dict(_model_extra(model).get("show_when", {}))
    rules.update({n: _field_extra(model, n)["show_when"] for n in fields if "show_when" in _field_extra(model, n)})
    for name, rule in rules.items():
        if name not in fields:
            problems.append(f"show_when names unknown field {name!r}")
        for controller, values in rule.items():
            if controller not in fields:
                problems.append(f"show_when of {name!r}: unknown field {controller!r}")
                continue
            choices = _choices(plans[controller])
            if not choices:
                problems.append(f"show_when of {name!r}: {controller!r} is no choice field")
            problems += [f"show_when of {name!r}: {v!r} is no choice of {controller!r}" for v in values
                         if v not in choices]
    for name, kind in path_markers(model).items():
        if name not in fields or kind not in ("file", "dir", ""):
            problems.append(f"path marker {name!r}: {kind!r}")
    for plan in plans.values():
        if plan.kind == "boxes" and plans.get(plan.image_field, FieldPlan("", "text", "", False)).kind != "path-file":
            problems.append(f"boxes field {plan.name!r}: image_field {plan.image_field!r} is no image file field")
        if plan.kind == "text" and PATH_WORDS.search(plan.help) and plan.name not in path_markers(model):
            problems.append(f"{plan.name!r} is described as a file or folder but not marked (path: file/dir/'')")
    ungrouped = [p.name for p in plans.values() if not p.group]
    if len(plans) > MAX_FLAT and len(ungrouped) > MAX_UNGROUPED:
        problems.append(f"{len(plans)} fields, {len(ungrouped)} outside any group: {', '.join(ungrouped)}")
    return problems


def test_the_walk_covers_every_family():
    assert len(TASKS) > 30 and {s.id.split(".")[0] for s in TASKS} >= {"ood", "tta", "clip", "clim", "diffusion",
                                                                        "registration", "digits", "shapes"}


@pytest.mark.parametrize("spec", TASKS, ids=[s.id for s in TASKS])
def test_form_hints_of_every_task(spec):
    assert hint_problems(spec.params) == []


class _Broken(BaseModel):
    model_config = ConfigDict(json_schema_extra={"groups": {"Input": ["nope"]},
                                                 "show_when": {"a": {"method": ["gamma"]}, "b": {"ghost": [1]}},
                                                 "paths": {"a": "folder"}})

    method: str = Field("alpha")
    a: int = 1
    b: str = Field("", description="a weights file")
    c: int = 1
    d: int = 1
    e: int = 1
    f: int = 1


def test_the_walk_catches_each_kind_of_mistake():
    problems = "\n".join(hint_problems(_Broken))
    for expected in ("unknown field 'nope'", "'method' is no choice field", "unknown field 'ghost'",
                     "path marker 'a'", "'b' is described as a file", "7 fields, 7 outside any group"):
        assert expected in problems


def test_path_markers_override_the_name_rule():
    class Model(BaseModel):
        model_config = ConfigDict(json_schema_extra={"paths": {"data": "dir", "weights": ""}})

        data: str = "digits"
        weights: str = ""
        image: str = Field("", json_schema_extra={"path": "file"})
        frames: list[str] = Field([], json_schema_extra={"path": "dir"})
        resume: str = ""

    kinds = {p.name: p.kind for p in plan_form(Model)}
    assert kinds == {"data": "path-dir", "weights": "text", "image": "path-file", "frames": "paths-dir",
                     "resume": "path-file"}
