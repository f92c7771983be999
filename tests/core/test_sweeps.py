"""Sweeps in recipes, the pool executor, resumable batches, SLURM arrays and the merged report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.core.batch import Batch
from workbench.core.errors import RecipeError, UserError
from workbench.core.recipes import parse_recipe
from workbench.core.sweeps import Sweep, combinations
from workbench.testing import takes_ctrl_c

FAKE = Path(__file__).parent / "fake_plugins"


def test_grid_zip_and_glob_expand_in_a_stable_order(tmp_path):
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"x")
    sweep = Sweep(grid={"k": [1, 2]}, zip={"r": [0.5, 0.9], "seed": [3, 4]}, glob={"w": "*/model.safetensors"})
    combos = combinations(sweep, tmp_path)
    assert len(combos) == 2 * 2 * 2
    assert [c["w"].split("/")[-2] for c in combos[:4]] == ["a", "a", "b", "b"]
    assert combos[0] == {"k": 1, "w": str(tmp_path / "a" / "model.safetensors"), "r": 0.5, "seed": 3}
    with pytest.raises(ValueError, match="same length"):
        Sweep(zip={"a": [1], "b": [1, 2]})
    with pytest.raises(ValueError, match="more than one part"):
        Sweep(grid={"a": [1]}, zip={"a": [2]})
    with pytest.raises(RecipeError, match="matches no file"):
        combinations(Sweep(glob={"w": "nothing/*.pt"}), tmp_path)


def test_a_swept_step_becomes_named_validated_runs(test_plugins):
    text = """
steps:
  - name: echo
    task: test.echo
    params: {steps: 1}
    sweep:
      grid: {value: [1.0, 2.5], seed: [1, 2]}
"""
    recipe = parse_recipe(text, "r.yaml", test_plugins.registry)
    assert [s.recipe_step for s in recipe.steps] == ["echo [value=1, seed=1]", "echo [value=1, seed=2]",
                                                     "echo [value=2.5, seed=1]", "echo [value=2.5, seed=2]"]
    assert [s.seed for s in recipe.steps] == [1, 2, 1, 2] and recipe.steps[2].params == {"steps": 1, "value": 2.5}
    assert {s.sweep_group for s in recipe.steps} == {"echo"} and recipe.steps[3].sweep_values == {"value": 2.5,
                                                                                                   "seed": 2}
    with pytest.raises(RecipeError, match=r"step 1 \(echo \[steps=0\]\): steps: Input should be greater"):
        parse_recipe("steps:\n  - name: echo\n    task: test.echo\n    sweep: {grid: {steps: [0]}}\n", "r.yaml",
                     test_plugins.registry)


LADDER = """
name: ladder
steps:
  - name: ratios
    task: registration.register
    params: {method: sc2pcr, n_points: 2000, n_matches: 300}
    sweep:
      grid: {outlier_ratio: [0.5, 0.8, 0.9, 0.95]}
"""


def _metrics(batch) -> list[dict]:
    from workbench.core.runstore import RunStore

    out = []
    for step in batch.record.steps:
        table = next(r for r in RunStore.results(step.run_dir) if r.name == "metrics")
        out.append({k: v for k, v in table.rows if k in ("RE_deg", "TE", "inlier_precision", "success_3dmatch")})
    return out


def test_local_and_pool_executors_give_the_same_metrics_and_the_report_has_one_table_per_sweep(tmp_path):
    recipe = tmp_path / "ladder.yaml"
    recipe.write_text(LADDER)
    local = Batch.from_file(recipe, tmp_path / "local")
    assert local.run().state == "completed"
    pool = Batch.from_file(recipe, tmp_path / "pool", executor="pool:2")
    assert pool.run().state == "completed"
    assert _metrics(local) == _metrics(pool)
    assert all(json.loads(Path(s.run_dir, "run.json").read_text())["execution"] == "worker"
               for s in pool.record.steps)
    index = pool.write_report()
    html = index.read_text()
    assert html.count("Sweep: ratios") == 2 and "outlier_ratio" in html
    assert (index.parent / "figures" / "sweeps" / "sweep-1-curves.png").is_file()


def test_running_again_resumes_reuses_completed_runs_and_force_reruns(test_plugins, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - name: e\n    task: test.echo\n    sweep: {grid: {value: [1.0, 2.0, 3.0]}}\n"
                      "  - name: f\n    task: test.fail\n")
    first = Batch.from_file(recipe, tmp_path / "b", keep_going=True).run()
    assert [s.state for s in first.steps] == ["completed"] * 3 + ["failed"]
    again = Batch.from_file(recipe, tmp_path / "b", keep_going=True).run()
    assert [s.reused for s in again.steps] == [True, True, True, False]
    assert [s.run_dir for s in again.steps[:3]] == [s.run_dir for s in first.steps[:3]]
    assert again.steps[3].run_dir != first.steps[3].run_dir and "3 completed run(s) kept" in again.notes[-1]
    forced = Batch.from_file(recipe, tmp_path / "b", keep_going=True, force=True).run()
    assert not any(s.reused for s in forced.steps)


def test_a_failing_and_a_killed_worker_in_the_pool_do_not_stop_the_others(test_plugins, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - {name: ok1, task: test.echo}\n  - {name: raises, task: test.fail}\n"
                      "  - {name: dies, task: test.abort}\n  - {name: ok2, task: test.echo, seed: 3}\n")
    record = Batch.from_file(recipe, tmp_path / "b", keep_going=True, executor="pool:2").run()
    states = {s.name: s for s in record.steps}
    assert states["ok1"].state == states["ok2"].state == "completed"
    assert states["raises"].state == "failed" and "fails on purpose" in states["raises"].error
    assert states["dies"].state == "failed" and "worker process died" in states["dies"].error
    assert "RuntimeError" in (Path(states["raises"].run_dir) / "log.txt").read_text()
    assert record.state == "failed"


def _wb(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300, **kw)


@pytest.fixture
def env(workbench_home):
    return {**os.environ, "WORKBENCH_HOME": str(workbench_home), "WORKBENCH_EXTRA_PLUGINS": "wbtest=wbtest_tasks",
            "PYTHONPATH": os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")])}


def test_slurm_array_variables_pick_the_shard_and_the_script_runs_every_shard(env, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - name: e\n    task: test.echo\n    sweep: {grid: {value: [1.0, 2.0, 3.0, 4.0]}}\n")
    script = _wb("batch", str(recipe), "--slurm-script", "2", "--gpus", "1", "--out", str(tmp_path / "array"),
                 env=env).stdout
    assert "#SBATCH --array=0-1" in script and "#SBATCH --gres=gpu:1" in script
    assert f'--out "{tmp_path / "array"}/shard-$SLURM_ARRAY_TASK_ID"' in script
    for task_id in ("5", "6"):
        shard_env = {**env, "SLURM_ARRAY_TASK_ID": task_id, "SLURM_ARRAY_TASK_COUNT": "2",
                     "SLURM_ARRAY_TASK_MIN": "5"}
        out = _wb("batch", str(recipe), "--no-report", "--out", str(tmp_path / "array" / f"shard-{task_id}"),
                  env=shard_env)
        assert out.returncode == 0, out.stderr
    names = [[s["name"] for s in json.loads((tmp_path / "array" / f"shard-{t}" / "batch.json").read_text())["steps"]]
             for t in ("5", "6")]
    assert names == [["e [value=1]", "e [value=3]"], ["e [value=2]", "e [value=4]"]]
    out = _wb("report", *[str(p) for p in sorted((tmp_path / "array").glob("shard-*"))], "--out",
              str(tmp_path / "merged"), env=env)
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "merged" / "index.html").read_text()
    assert html.count("<h2>e [value=") == 4 and "Sweep: e" in html


def test_interrupting_the_driver_leaves_a_readable_batch_json_and_the_next_run_resumes(env, test_plugins, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - {name: quick, task: test.echo}\n"
                      "  - {name: slow, task: test.echo-worker, params: {steps: 400, delay: 0.05}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "batch", str(recipe), "--out",
                             str(tmp_path / "b")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=takes_ctrl_c)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        doc = (tmp_path / "b" / "batch.json")
        if doc.is_file() and json.loads(doc.read_text())["steps"][1]["state"] == "running":
            break
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    doc = json.loads((tmp_path / "b" / "batch.json").read_text())
    assert doc["state"] == "interrupted" and [s["state"] for s in doc["steps"]] == ["completed", "cancelled"]
    assert (tmp_path / "b" / "report" / "index.html").is_file() and not (tmp_path / "b" / "batch.lock").exists()
    again = Batch.from_file(recipe, tmp_path / "b")
    assert [s.reused for s in again.run().steps] == [True, False]


def test_a_bad_executor_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="use local, pool:N, ray or ray:N"):
        from workbench.core.batch import parse_executor

        parse_executor("pool:zero")
