"""The typed parameter path: ``--set`` strings read by the field's own type, ``run TASK --help``, JSON Schema for
tasks and recipes, and versioned persistence (parameter revisions, schema versions of runs, results, recipes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from workbench.core.errors import ParamError
from workbench.core.params import VersionedParams, coerce_value, parse_assignments, upgrade_params, validate_params


class P(BaseModel):
    image: str = ""
    name: str = "x"
    count: int = 1
    rate: float = 0.5
    flag: bool = False
    maybe: str | None = "set"
    maybe_int: int | None = 3
    words: list[str] = Field(default_factory=list)
    numbers: list[int] = Field(default_factory=list)
    mode: Literal["a", "b"] = "a"


def _parse(*pairs):
    return P.model_validate(parse_assignments(list(pairs), P))


def test_strings_stay_strings_for_text_fields():
    p = _parse("image=0012", "name=yes")
    assert p.image == "0012" and p.name == "yes"
    assert _parse("name=null").name == "null" and _parse("name=[1, 2]").name == "[1, 2]"
    assert _parse("name=").name == ""


def test_numbers_booleans_null_and_lists_where_the_field_takes_them():
    p = _parse("count=0012", "rate=1e-3", "flag=yes", "maybe=null", "maybe_int=none", "mode=b")
    assert (p.count, p.rate, p.flag, p.maybe, p.maybe_int, p.mode) == (12, 1e-3, True, None, None, "b")
    assert _parse("words=[msp, energy]").words == ["msp", "energy"]
    assert _parse("words=msp,energy").words == ["msp", "energy"]
    assert _parse("numbers=[1, 2]").numbers == [1, 2] and _parse("numbers=3,4").numbers == [3, 4]
    assert _parse("words=").words == []


def test_bad_values_name_the_parameter():
    with pytest.raises(ParamError, match="count: Input should be a valid integer"):
        validate_params(P, parse_assignments(["count=many"], P))
    with pytest.raises(ParamError, match="expected KEY=VALUE"):
        parse_assignments(["count"], P)
    with pytest.raises(ParamError, match="is not a list"):
        parse_assignments(["words=[a, b"], P)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_string_given_to_a_text_field_arrives_unchanged(text):
    assert _parse(f"name={text}").name == text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-10**12, max_value=10**12), st.floats(allow_nan=False, allow_infinity=False,
                                                                   width=32), st.booleans())
def test_numbers_and_booleans_round_trip_through_their_text(n, x, b):
    p = _parse(f"count={n}", f"rate={x!r}", f"flag={str(b).lower()}")
    assert p.count == n and p.rate == pytest.approx(x) and p.flag is b


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghij-_0123456789", min_size=1, max_size=8), max_size=5))
def test_comma_lists_of_words_round_trip(words):
    assert _parse("words=" + ",".join(words)).words == words


def wb(*args, env=None):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env=env or os.environ, timeout=120)


def test_run_task_help_lists_every_parameter_with_type_default_range_and_choices():
    out = wb("run", "ood.posthoc", "--help")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for name in ("weights", "detectors", "odin_temperature", "knn_k", "batch_size", "on_bad_image"):
        assert f"  {name} (" in text, name
    assert "knn_k (int; default 50) [range: >= 1]" in text
    assert "choices: raise, skip" in text and "parameters revision 1" in text
    assert "KNN: distance to the k-th nearest" in text


def test_set_is_typed_on_the_real_cli(tmp_path):
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path)}
    out = wb("run", "shapes.scenes", "--set", "count=0002", "--set", "split=novel", "--out", str(tmp_path / "r"),
             env=env)
    assert out.returncode == 0, out.stderr
    run_json = json.loads(next((tmp_path / "r").glob("*/run.json")).read_text())
    assert run_json["params"]["count"] == 2 and run_json["params"]["split"] == "novel"


def test_plugins_json_lists_parameters():
    doc = json.loads(wb("plugins", "--json").stdout)
    task = next(t for p in doc for t in p["tasks"] if t["id"] == "ood.posthoc")
    knn = next(p for p in task["parameters"] if p["name"] == "knn_k")
    assert knn == {"name": "knn_k", "type": "int", "default": 50, "required": False, "choices": None,
                   "range": {">=": 1}, "description": knn["description"]}
    assert task["requires"] == ["digits"] and task["available"] and task["params_revision"] == 1


def test_task_and_recipe_schemas_validate_the_shipped_recipes_and_catch_mistakes():
    import jsonschema
    import yaml

    from workbench.core.plugins import get_host

    task_schema = json.loads(wb("schema", "ood.posthoc").stdout)
    jsonschema.validate({"detectors": ["msp"], "knn_k": 5}, task_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"knn_k": 0}, task_schema)
    schema = json.loads(wb("schema", "--recipe").stdout)
    for spec in get_host().registry.recipes.values():
        jsonschema.validate(yaml.safe_load(spec.path.read_text()), schema)
    bad = {"steps": [{"task": "ood.posthoc", "params": {"knn_k": "many"}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"steps": [{"task": "ood.posthoc", "colour": "red"}]}, schema)


class Renamed(VersionedParams):
    revision = 3
    renamed = {"resume_from": (2, "resume"), "save_to_zoo": (3, "publish")}
    removed = {"opacity": (2, "a display option now")}

    resume: str = ""
    publish: bool = False


def test_renamed_and_removed_parameters_upgrade_with_notes_and_newer_revisions_are_refused():
    values, notes = upgrade_params(Renamed, {"resume_from": "run-1", "save_to_zoo": True, "opacity": 0.3}, 1)
    assert values == {"resume": "run-1", "publish": True}
    assert any("'resume_from' was renamed to 'resume' (revision 2)" in n for n in notes)
    assert any("'opacity' was removed in revision 2" in n for n in notes)
    with pytest.raises(ParamError, match="revision 4 .* installed plugin has revision 3"):
        upgrade_params(Renamed, {}, 4)
    with pytest.raises(ParamError, match="both 'resume_from' and its new name 'resume'"):
        upgrade_params(Renamed, {"resume_from": "a", "resume": "b"}, None)
    assert coerce_value(bool, "no", "publish") == "no"


def test_an_old_run_json_with_a_renamed_parameter_reruns_with_a_note(tmp_path):
    old = {"id": "old-run", "task": "digits.train-classifier", "plugin": "digits",
           "params": {"epochs": 1, "width": 4, "save_to_zoo": False}, "state": "completed", "seed": 0}
    run_dir = tmp_path / "old-run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps(old))
    from workbench.core.runner import RunRequest
    from workbench.core.runstore import RunStore

    record = RunStore.load(run_dir)
    assert record.params_revision is None and record.schema_version == 1
    from workbench.core.runner import Runner

    job = Runner(store=RunStore(tmp_path / "store")).prepare(RunRequest(**record.request()))
    assert job.record.params == {**job.record.params, "publish": False} and "save_to_zoo" not in job.record.params
    assert job.record.params_revision == 2
    assert any("'save_to_zoo' was renamed to 'publish'" in n for n in job.record.notes)


def test_files_newer_than_the_host_are_refused_with_a_clear_message(tmp_path):
    from workbench.core.recipes import RecipeError, parse_recipe
    from workbench.core.registry import Registry
    from workbench.core.results import MetricsTable, Result, ResultFileError
    from workbench.core.runstore import RunStore, RunStoreError

    (tmp_path / "run.json").write_text(json.dumps({"schema_version": 99, "id": "x", "task": "t"}))
    with pytest.raises(RunStoreError, match="schema 99 is newer"):
        RunStore.load(tmp_path)
    MetricsTable(name="m", columns=["a"], rows=[[1]]).save(tmp_path / "results")
    doc = json.loads((tmp_path / "results" / "m.json").read_text())
    assert doc["schema_version"] == 1 and Result.load(tmp_path / "results" / "m.json").rows == [[1]]
    doc["schema_version"] = 7
    (tmp_path / "results" / "m.json").write_text(json.dumps(doc))
    with pytest.raises(ResultFileError, match="result schema 7 is newer"):
        Result.load(tmp_path / "results" / "m.json")
    with pytest.raises(RecipeError, match="recipe version 5 is newer"):
        parse_recipe("version: 5\nsteps:\n  - task: x\n", "r.yaml", Registry())


def test_an_unregistered_result_kind_loads_as_a_readable_generic_result(tmp_path):
    import numpy as np

    from workbench.core.results import GenericResult, Result
    from workbench.render.export import figure_png

    (tmp_path / "x.json").write_text(json.dumps({"schema_version": 1, "kind": "nobody.kind",
                                                 "fields": {"name": "x", "title": "T", "value": 3,
                                                            "arr": {"__array__": "arr"}}}))
    np.savez(tmp_path / "x.npz", arr=np.arange(4))
    result = Result.load(tmp_path / "x.json")
    assert isinstance(result, GenericResult) and result.original_kind == "nobody.kind"
    assert result.values["value"] == 3 and result.values["arr"].tolist() == [0, 1, 2, 3]
    assert figure_png(result)[:4] == b"\x89PNG"
