"""The ``ray`` batch executor on a local Ray runtime started and stopped here: same metrics as ``local``, events
relayed, a raising run and a run whose process dies marked failed while the others complete."""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path

import pytest

from workbench.core.batch import Batch
from workbench.core.runstore import RunStore

ray = pytest.importorskip("ray")
FAKE = Path(__file__).parent / "fake_plugins"


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray runtime for the module; its workers inherit the test plugins through env and PYTHONPATH."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "WORKBENCH_EXTRA_PLUGINS", "RAY_ADDRESS")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")])
    os.environ["WORKBENCH_EXTRA_PLUGINS"] = "wbtest=wbtest_tasks"
    os.environ.pop("RAY_ADDRESS", None)
    printer = builtins.print
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    builtins.print = printer
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _metrics(batch) -> list[dict]:
    out = []
    for step in batch.record.steps:
        table = next(r for r in RunStore.results(step.run_dir) if r.name == "metrics")
        out.append({k: v for k, v in table.rows if k in ("RE_deg", "TE", "inlier_precision", "success_3dmatch")})
    return out


def test_ray_and_local_give_the_same_registration_sweep(ray_runtime, tmp_path):
    recipe = tmp_path / "ladder.yaml"
    recipe.write_text("name: ladder\nsteps:\n  - name: ratios\n    task: registration.register\n"
                      "    params: {method: sc2pcr, n_points: 1500, n_matches: 200}\n"
                      "    sweep:\n      grid: {outlier_ratio: [0.5, 0.8, 0.9, 0.95]}\n")
    local = Batch.from_file(recipe, tmp_path / "local")
    assert local.run().state == "completed"
    events = []
    on_ray = Batch.from_file(recipe, tmp_path / "ray", executor="ray")
    assert on_ray.run(on_event=events.append).state == "completed"
    assert _metrics(local) == _metrics(on_ray)
    runs = [json.loads(Path(s.run_dir, "run.json").read_text()) for s in on_ray.record.steps]
    assert {r["execution"] for r in runs} == {"ray"} and {r["state"] for r in runs} == {"completed"}
    assert len({r["pid"] for r in runs} - {os.getpid()}) >= 1
    relayed = [e.run_event for e in events if e.kind == "run"]
    assert any(e.kind == "result" for e in relayed) and any(e.state == "completed" for e in relayed)
    assert on_ray.write_report().read_text().count("Sweep: ratios") >= 1


def test_a_raising_and_a_dying_ray_task_fail_alone(ray_runtime, test_plugins, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - {name: ok1, task: test.echo}\n  - {name: raises, task: test.fail}\n"
                      "  - {name: dies, task: test.abort}\n  - {name: ok2, task: test.echo, seed: 3}\n")
    record = Batch.from_file(recipe, tmp_path / "b", keep_going=True, executor="ray:2").run()
    states = {s.name: s for s in record.steps}
    assert states["ok1"].state == states["ok2"].state == "completed"
    assert states["raises"].state == "failed" and "fails on purpose" in states["raises"].error
    assert "RuntimeError" in (Path(states["raises"].run_dir) / "log.txt").read_text()
    assert states["dies"].state == "failed" and "Ray task died" in states["dies"].error
    assert RunStore.load(Path(states["dies"].run_dir)).state.value == "failed"
    assert record.state == "failed"


def test_without_keep_going_the_runs_after_a_failure_are_skipped(ray_runtime, test_plugins, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - {name: raises, task: test.fail}\n  - {name: later, task: test.echo}\n")
    record = Batch.from_file(recipe, tmp_path / "b", executor="ray:1").run()
    assert [s.state for s in record.steps] == ["failed", "skipped"]


POSTHOC = """
name: posthoc-sweep
steps:
  - name: checkpoints
    task: ood.posthoc
    params: {detectors: [msp, energy], top_k_images: 0}
    sweep:
      grid: {model: [ce-digits, mixoe-digits, ascood-digits], backend: [torch, onnx]}
"""


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_local_pool_and_ray_give_the_same_posthoc_sweep(ray_runtime, tmp_path):
    """3 checkpoints x 2 backends of ood.posthoc on the three executors: the same metrics, one table per sweep."""
    recipe = tmp_path / "posthoc.yaml"
    recipe.write_text(POSTHOC)
    tables = {}
    for executor in ("local", "pool:2", "ray"):
        batch = Batch.from_file(recipe, tmp_path / executor.replace(":", "-"), executor=executor)
        assert batch.run().state == "completed", executor
        tables[executor] = [[r.as_dicts() for r in RunStore.results(s.run_dir) if r.kind == "metrics"]
                            for s in batch.record.steps]
        assert batch.write_report().read_text().count("Sweep: checkpoints") >= 1
    assert len(tables["local"]) == 6
    assert tables["local"] == tables["pool:2"] == tables["ray"]
