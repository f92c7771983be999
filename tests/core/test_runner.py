"""The runner and run store: states, failures, cancellation in-process and in a worker, re-runs."""

from __future__ import annotations

import json
import threading
import time

import pytest

from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunRecord, RunState, RunStore


def _events():
    seen = []
    return seen, seen.append


@pytest.mark.parametrize("execution", ["inproc", "worker"])
def test_task_runs_and_results_are_stored(test_plugins, execution):
    seen, sink = _events()
    job, record = Runner().run(RunRequest(task="test.echo", params={"steps": 3, "value": 2}, execution=execution,
                                          seed=7), on_event=sink)
    assert record.state == RunState.COMPLETED, record.error
    results = {r.name: r for r in RunStore.results(job.run_dir)}
    assert results["table"].as_dicts()[0] == {"key": "sum", "value": 12.0}
    assert results["curve"].series["y"].shape == (2, 3)
    gauge = results["gauge"]
    assert type(gauge).__name__ == "Gauge" and gauge.value == 12.0 and gauge.history.tolist() == [2.0, 4.0, 6.0]
    relayed = [e.result for e in seen if e.kind == "result" and e.message == "gauge"]
    assert relayed and type(relayed[-1]).__name__ == "Gauge"
    kinds = [e.kind for e in seen]
    assert kinds.count("progress") == 3 and "result" in kinds
    assert [e.state for e in seen if e.kind == "state"] == ["running", "completed"]
    doc = json.loads((job.run_dir / "run.json").read_text())
    assert doc["state"] == "completed" and doc["params"] == {"steps": 3, "value": 2.0, "delay": 0.0}
    assert doc["seed"] == 7 and doc["execution"] == execution and "numpy" in doc["versions"]
    pid = results["table"].as_dicts()[2]["value"]
    assert (pid != __import__("os").getpid()) == (execution == "worker")


def test_rerun_from_run_json_gives_the_same_results(test_plugins):
    runner = Runner()
    job, _ = runner.run(RunRequest(task="test.echo", seed=3))
    record = RunStore.load(job.run_dir)
    job2, _ = runner.run(RunRequest(**record.request()))
    first = {r.name: r for r in RunStore.results(job.run_dir)}["table"].as_dicts()[1]
    again = {r.name: r for r in RunStore.results(job2.run_dir)}["table"].as_dicts()[1]
    assert first == again and job2.run_dir != job.run_dir


@pytest.mark.parametrize("task", ["test.fail", "test.fail-worker"])
def test_failing_task_is_failed_with_traceback(test_plugins, task):
    job, record = Runner().run(RunRequest(task=task))
    assert record.state == RunState.FAILED
    assert "fails on purpose" in record.error
    assert "RuntimeError" in record.traceback
    assert "fails on purpose" in (job.run_dir / "log.txt").read_text()
    assert RunStore.load(job.run_dir).state == RunState.FAILED


def test_worker_that_dies_leaves_the_run_failed(test_plugins):
    t0 = time.monotonic()
    job, record = Runner().run(RunRequest(task="test.abort"))
    assert record.state == RunState.FAILED
    assert "worker process died" in record.error and "signal" in record.error
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize("execution", ["inproc", "worker"])
def test_cancel_stops_the_run(test_plugins, execution):
    runner = Runner()
    job = runner.prepare(RunRequest(task="test.echo", params={"steps": 500, "delay": 0.02}, execution=execution))
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("record", runner.execute(job)))
    thread.start()
    time.sleep(1.5 if execution == "worker" else 0.3)
    t0 = time.monotonic()
    job.cancel()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - t0 < 1.0
    record = out["record"]
    assert record.state == RunState.CANCELLED
    assert RunStore.load(job.run_dir).state == RunState.CANCELLED
    for path in (job.run_dir / "results").glob("*.json"):
        json.loads(path.read_text())


def test_bad_parameters_are_refused_before_a_run_directory_exists(test_plugins, workbench_home):
    from workbench.core.params import ParamError

    with pytest.raises(ParamError, match=r"steps: Input should be less than or equal to 1000"):
        Runner().prepare(RunRequest(task="test.echo", params={"steps": 5000}))
    with pytest.raises(ParamError, match=r"unknown parameter\(s\) nope"):
        Runner().prepare(RunRequest(task="test.echo", params={"nope": 1}))
    assert not (workbench_home / "runs").exists() or not any((workbench_home / "runs").iterdir())


def test_run_left_running_by_a_dead_process_reads_as_interrupted(tmp_path):
    store = RunStore(tmp_path)
    run_dir, record = store.new_run({"task": "x"})
    record.state, record.pid = RunState.RUNNING, 2**22 + 12345
    RunStore.save(run_dir, record)
    assert RunStore.load(run_dir).state == RunState.INTERRUPTED


def test_run_json_writes_are_atomic(tmp_path):
    store = RunStore(tmp_path)
    run_dir, record = store.new_run({"task": "x"})
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            try:
                RunRecord.model_validate_json((run_dir / "run.json").read_text())
            except Exception as exc:  # a half-written file would land here
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(300):
        record.params = {"i": i, "pad": "x" * (i * 50)}
        RunStore.save(run_dir, record)
    stop.set()
    thread.join()
    assert errors == []
    assert not list(run_dir.glob(".*.tmp"))
