"""Property-based tests: ``--set KEY=VALUE`` reads every value by its field's type, parameter revisions upgrade
renamed and removed keys, and the run store's state machine reads right after any sequence of creates,
starts, heartbeats, ends, deaths, lapsed leases and corrupted records."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import ClassVar, Literal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import BaseModel, ConfigDict

from workbench.core.errors import ParamError
from workbench.core.params import (
    ParamsUpgradeWarning,
    VersionedParams,
    parse_assignments,
    upgrade_params,
    validate_params,
)
from workbench.core.runstore import HEARTBEAT, LEASE_S, RunRecord, RunState, RunStore, RunStoreError


class Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = ""
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    sizes: list[int] = []
    limit: int | None = 3
    mode: Literal["fast", "exact", "null"] = "fast"


def _set(key: str, raw: str) -> BaseModel:
    return validate_params(Fields, parse_assignments([f"{key}={raw}"], Fields))


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(TEXT)
def test_a_text_field_keeps_exactly_the_string_given(raw):
    assert _set("text", raw).text == raw


@given(st.integers(min_value=-10**30, max_value=10**30))
def test_an_int_field_reads_any_integer(n):
    assert _set("count", str(n)).count == n


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_field_reads_its_repr(x):
    assert _set("ratio", repr(x)).ratio == x


@given(st.sampled_from(["true", "false", "yes", "no", "1", "0", "on", "off"]), st.booleans())
def test_a_bool_field_reads_the_usual_words_in_any_case(word, upper):
    expected = word in ("true", "yes", "1", "on")
    assert _set("flag", word.upper() if upper else word).flag is expected


@given(st.lists(st.integers(min_value=-10**6, max_value=10**6), max_size=8), st.booleans())
def test_a_list_field_reads_commas_and_brackets(values, brackets):
    raw = f"[{', '.join(map(str, values))}]" if brackets else ",".join(map(str, values))
    assert _set("sizes", raw).sizes == values


@given(st.sampled_from(["null", "None", "~", "NULL"]))
def test_an_optional_field_takes_null_but_a_choice_named_null_stays_a_choice(word):
    assert _set("limit", word).limit is None
    assert _set("mode", "null").mode == "null"


@given(TEXT.filter(lambda s: s.strip().lstrip("+-").replace("_", "").isdigit() is False))
def test_a_non_integer_for_an_int_field_is_an_error_naming_the_key(raw):
    assume(raw.strip().lower() not in ("true", "false"))
    with pytest.raises(ParamError, match="count"):
        _set("count", raw)


@given(TEXT.filter(lambda s: "=" not in s))
def test_an_assignment_without_equals_is_refused(pair):
    with pytest.raises(ParamError, match="KEY=VALUE"):
        parse_assignments([pair], Fields)


@given(st.text(st.characters(categories=("Ll",)), min_size=1, max_size=12).filter(
    lambda k: k not in Fields.model_fields))
def test_an_unknown_key_is_an_error_naming_it(key):
    with pytest.raises(ParamError, match=f"unknown parameter.*{key}"):
        validate_params(Fields, {key: 1})


class Revised(VersionedParams):
    revision: ClassVar[int] = 3
    renamed: ClassVar[dict[str, tuple[int, str]]] = {"steps": (2, "iterations"), "lr": (3, "learning_rate")}
    removed: ClassVar[dict[str, tuple[int, str]]] = {"legacy": (3, "no longer used")}
    iterations: int = 10
    learning_rate: float = 0.1
    name: str = ""


VALUES = st.fixed_dictionaries({}, optional={"steps": st.integers(0, 10**6), "lr": st.floats(0, 1),
                                             "legacy": st.integers(), "name": TEXT})


@given(VALUES, st.sampled_from([None, 1, 2, 3]))
def test_old_names_upgrade_to_new_ones_with_a_note_each(values, revision):
    upgraded, notes = upgrade_params(Revised, values, revision)
    assert "steps" not in upgraded and "lr" not in upgraded and "legacy" not in upgraded
    if "steps" in values:
        assert upgraded["iterations"] == values["steps"]
    if "lr" in values:
        assert upgraded["learning_rate"] == values["lr"]
    assert len(notes) == len({"steps", "lr", "legacy"} & set(values))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        params = validate_params(Revised, values, revision=revision)
    assert [str(w.message) for w in caught if issubclass(w.category, ParamsUpgradeWarning)] == notes
    assert params.name == values.get("name", "")


@given(st.sampled_from(sorted(Revised.renamed)), st.integers(0, 100), st.integers(0, 100))
def test_an_old_and_a_new_name_together_are_refused(old, a, b):
    new = Revised.renamed[old][1]
    with pytest.raises(ParamError, match=f"both '{old}' and its new name '{new}'"):
        upgrade_params(Revised, {old: a, new: b}, None)


@given(st.integers(4, 10**6))
def test_a_newer_revision_is_refused(revision):
    with pytest.raises(ParamError, match="upgrade the plugin"):
        upgrade_params(Revised, {}, revision)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


class RunStoreMachine(RuleBasedStateMachine):
    """The store against a model of what each run should read as; each rule acts on a run in the state it
    applies to."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="wb-store-"))
        self.store = RunStore(self.root)
        self.expected: dict[Path, str] = {}
        self.remote: set[Path] = set()
        self.dead_pid = _dead_pid()

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _in(self, *states: str) -> list[Path]:
        return [run for run, state in self.expected.items() if state in states]

    def _pick(self, data, *states: str) -> Path:
        return data.draw(st.sampled_from(self._in(*states)))

    def _save(self, run_dir: Path, **fields) -> None:
        RunStore.save(run_dir, RunStore.load(run_dir).model_copy(update=fields))

    @rule()
    def create(self) -> None:
        run_dir, _ = self.store.new_run({"task": "test.echo"})
        self.expected[run_dir] = "queued"

    @precondition(lambda self: self._in("queued"))
    @rule(data=st.data())
    def start(self, data) -> None:
        run = self._pick(data, "queued")
        self._save(run, state=RunState.RUNNING, pid=os.getpid())
        (run / HEARTBEAT).touch()
        self.expected[run] = "running"

    @precondition(lambda self: self._in("running"))
    @rule(data=st.data())
    def heartbeat(self, data) -> None:
        (self._pick(data, "running") / HEARTBEAT).touch()

    @precondition(lambda self: self._in("running"))
    @rule(data=st.data(), end=st.sampled_from(["completed", "failed", "cancelled"]))
    def finish(self, data, end: str) -> None:
        run = self._pick(data, "running")
        self._save(run, state=RunState(end))
        self.expected[run] = end

    @precondition(lambda self: self._in("queued"))
    @rule(data=st.data())
    def cancel_before_start(self, data) -> None:
        run = self._pick(data, "queued")
        self._save(run, state=RunState.CANCELLED)
        self.expected[run] = "cancelled"

    @precondition(lambda self: set(self._in("running")) - self.remote)
    @rule(data=st.data())
    def process_dies(self, data) -> None:
        """On this host a dead pid is seen at once; another host's run stays ``running`` until its lease lapses."""
        run = data.draw(st.sampled_from(sorted(set(self._in("running")) - self.remote)))
        self._save(run, pid=self.dead_pid)
        self.expected[run] = "interrupted"

    @precondition(lambda self: self._in("running"))
    @rule(data=st.data(), lapsed=st.booleans())
    def seen_from_another_host(self, data, lapsed: bool) -> None:
        run = self._pick(data, "running")
        self._save(run, host="another-host", pid=self.dead_pid)
        self.remote.add(run)
        stamp = time.time() - (LEASE_S + 5 if lapsed else 0)
        os.utime(run / HEARTBEAT, (stamp, stamp))
        self.expected[run] = "interrupted" if lapsed else "running"

    @precondition(lambda self: self._in("queued", "running", "completed", "failed", "cancelled", "interrupted"))
    @rule(data=st.data(), junk=st.sampled_from([b"", b"{", b"[]", b'{"id": 3}', b"\xff\xfe", b"[" * 5000]))
    def corrupt(self, data, junk: bytes) -> None:
        run = self._pick(data, "queued", "running", "completed", "failed", "cancelled", "interrupted")
        (run / "run.json").write_bytes(junk)
        self.expected[run] = "corrupt"

    @invariant()
    def every_run_reads_as_expected(self) -> None:
        for run_dir, state in self.expected.items():
            if state == "corrupt":
                with pytest.raises(RunStoreError, match="run.json"):
                    RunStore.load(run_dir)
            else:
                assert RunStore.load(run_dir).state.value == state

    @invariant()
    def listing_skips_exactly_the_corrupt_runs(self) -> None:
        listed = {path for path, _ in self.store.list()}
        assert listed == {d for d, state in self.expected.items() if state != "corrupt"}

    @invariant()
    def writes_leave_no_temporary_files(self) -> None:
        assert not list(self.root.rglob(".*.tmp"))


RunStoreMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=15, deadline=None,
                                             suppress_health_check=[HealthCheck.too_slow])
test_run_store_state_machine = RunStoreMachine.TestCase


def test_a_record_from_another_host_without_a_heartbeat_is_taken_at_its_word(tmp_path):
    run_dir, record = RunStore(tmp_path).new_run({"task": "t"})
    RunStore.save(run_dir, RunRecord(**{**record.model_dump(), "state": "running", "host": "elsewhere"}))
    assert RunStore.load(run_dir).state == RunState.RUNNING
