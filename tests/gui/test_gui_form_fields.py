"""Form plans from pydantic models (the part of the form generator that needs no Qt)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fake_plugins"))

from wb_gui_fakes import EveryFieldParams, GroupedParams  # noqa: E402

from workbench.gui.form_fields import field_errors, parse_text, plan_form  # noqa: E402


def test_plans_follow_types_and_constraints():
    plans = {p.name: p for p in plan_form(EveryFieldParams)}
    assert {n: p.kind for n, p in plans.items()} == {
        "count": "int", "rate": "float", "mode": "choice", "colour": "choice", "verbose": "bool",
        "data_dir": "path-dir", "weights_path": "path-file", "label": "text", "sizes": "yaml"}
    assert (plans["count"].low, plans["count"].high, plans["count"].low_open) == (1, 10, False)
    assert (plans["rate"].low_open, plans["rate"].high_open) == (True, True)
    assert plans["count"].range_text == "1 ≤ value ≤ 10"
    assert plans["colour"].choices == ("red", "blue") and plans["colour"].default == "blue"
    assert plans["weights_path"].optional and not plans["weights_path"].required


def test_text_parsing_and_field_messages():
    plans = {p.name: p for p in plan_form(EveryFieldParams)}
    assert parse_text(plans["sizes"], "[1, 2, 3]") == (True, [1, 2, 3])
    assert parse_text(plans["count"], "  ") == (False, None)
    per_field, summary = field_errors(EveryFieldParams, {"count": "0", "label": ""})
    assert set(per_field) == {"count", "label"}
    assert summary.startswith("count: ") and "label" in summary
    assert field_errors(EveryFieldParams, {"count": "3"}) == ({}, "")
    assert "unknown parameter" in field_errors(EveryFieldParams, {"nope": 1})[1]


def test_groups_come_from_the_model_or_the_field():
    plans = {p.name: p.group for p in plan_form(GroupedParams)}
    assert plans == {"name": "", "lr": "Optimiser", "epochs": "Schedule", "momentum": "Optimiser", "tag": ""}
    assert {p.group for p in plan_form(EveryFieldParams)} == {""}
