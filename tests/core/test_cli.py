"""The headless CLI end to end, as a user runs it: real subprocesses, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.testing import takes_ctrl_c

FAKE = Path(__file__).parent / "fake_plugins"


def wb(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def env(workbench_home):
    return dict(os.environ, WORKBENCH_HOME=str(workbench_home), WORKBENCH_EXTRA_PLUGINS="wbtest=wbtest_tasks",
                PYTHONPATH=os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")]))


def test_plugins_table_and_json(env):
    out = wb("plugins", env=env)
    assert out.returncode == 0 and "ood.posthoc" in out.stdout and "test.echo" in out.stdout
    doc = json.loads(wb("plugins", "--json", env=env).stdout)
    ood = next(p for p in doc if p["name"] == "ood-baselines")
    assert ood["status"] == "loaded"
    assert {"id": "ood.posthoc", "family": "ood-detection"}.items() <= ood["tasks"][0].items()


def test_info_lists_backends(env):
    out = wb("info", "--json", env=env)
    doc = json.loads(out.stdout)
    assert doc["torch"]["version"] and doc["onnxruntime"]["version"]
    assert "usable backends: torch-cpu" in wb("info", env=env).stdout


def test_run_writes_a_run_and_a_report(env, tmp_path):
    out = wb("run", "test.echo", "--set", "steps=2", "--set", "value=0.5", "--out", str(tmp_path / "store"),
             "--report", env=env)
    assert out.returncode == 0, out.stderr
    run_dir = next((tmp_path / "store").iterdir())
    assert json.loads((run_dir / "run.json").read_text())["params"]["value"] == 0.5
    assert (run_dir / "report" / "index.html").is_file()
    assert "[test.echo] 100% step 2" in out.stderr


def test_rerun_repeats_a_run_from_its_run_json(env, tmp_path):
    store = tmp_path / "store"
    assert wb("run", "test.echo", "--seed", "9", "--set", "steps=2", "--out", str(store), env=env).returncode == 0
    first = next(store.iterdir())
    out = wb("rerun", str(first), "--out", str(store), env=env)
    assert out.returncode == 0, out.stderr
    second = next(d for d in store.iterdir() if d != first)
    a, b = (json.loads((d / "run.json").read_text()) for d in (first, second))
    assert (a["task"], a["params"], a["seed"]) == (b["task"], b["params"], b["seed"])
    from workbench.core.runstore import RunStore

    draws = [{r.name: r for r in RunStore.results(d)}["table"].as_dicts()[1] for d in (first, second)]
    assert draws[0] == draws[1] and draws[0]["key"] == "draw"


def test_failing_task_exits_nonzero(env):
    out = wb("run", "test.fail", env=env)
    assert out.returncode == 1
    assert "fails on purpose" in out.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "no.such-task"], "unknown task 'no.such-task'"),
    (["run", "test.echo", "--set", "steps=many"], "steps: Input should be a valid integer"),
    (["run", "test.echo", "--set", "bogus=1"], "unknown parameter(s) bogus"),
    (["run", "test.echo", "--device", "cuda"], "CUDA was requested"),
    (["run", "test.echo", "--backend", "onnx"], "does not run on onnx"),
])
def test_bad_input_is_a_clear_error(env, args, message):
    out = wb(*args, env=env)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_ctrl_c_marks_the_run_cancelled(env, tmp_path):
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", "test.echo", "--set", "steps=1000",
                             "--set", "delay=0.01", "--out", str(store)], env=env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=takes_ctrl_c)
    for line in proc.stderr:  # the task's own progress: the run is inside its cancellation handling
        if "step 2" in line:
            break
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    run_dir = next(store.iterdir())
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["state"] == "cancelled" and doc["partial"] is True


RECIPE = """
name: t
steps:
  - name: first
    task: test.echo
    params: {steps: 2}
  - name: breaks
    task: test.fail
  - name: last
    task: test.echo
    seed: 4
"""


def test_batch_keeps_going_summarises_and_fails(env, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    out = wb("batch", str(recipe), "--keep-going", "--out", str(tmp_path / "b"), env=env)
    assert out.returncode == 1
    lines = [line for line in out.stdout.splitlines() if line.startswith(("first", "breaks", "last"))]
    assert [line.split()[-2] if "failed" not in line else "failed" for line in lines][1] == "failed"
    assert "completed" in lines[0] and "completed" in lines[2]
    assert (tmp_path / "b" / "recipe.yaml").read_text() == RECIPE
    assert (tmp_path / "b" / "report" / "index.html").is_file()


def test_batch_stops_at_failure_without_keep_going(env, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    out = wb("batch", str(recipe), "--out", str(tmp_path / "b"), env=env)
    assert out.returncode == 1
    assert any(line.startswith("last") and "skipped" in line for line in out.stdout.splitlines())


def test_batch_shards_split_the_steps(env, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.replace("task: test.fail", "task: test.echo"))
    out = wb("batch", str(recipe), "--shard", "2/2", "--out", str(tmp_path / "b"), "--no-report", env=env)
    assert out.returncode == 0
    runs = [json.loads((d / "run.json").read_text())["recipe_step"] for d in (tmp_path / "b" / "runs").iterdir()]
    assert runs == ["breaks"]


def test_export_onnx_command(env, tmp_path):
    out = wb("export-onnx", "digits-cnn", "--out", str(tmp_path / "m.onnx"), env=env)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "m.onnx").is_file()
    diff = float(out.stdout.split("max |onnx - torch| = ")[1].split()[0])
    assert diff < 1e-4


def test_help_is_fast_to_reach():
    out = wb("--help")
    assert out.returncode == 0 and "export-onnx" in out.stdout


def test_report_of_a_missing_folder_is_clear(env, tmp_path):
    out = wb("report", str(tmp_path / "nope"), env=env)
    assert out.returncode == 2 and "not a run directory" in out.stderr


def test_demo_recipe_is_valid():
    from workbench.core.catalog import find_recipe
    from workbench.core.plugins import PluginHost
    from workbench.core.recipes import load_recipe

    recipe = load_recipe(find_recipe("demo"), PluginHost().registry)
    assert recipe.steps


@pytest.mark.slow
def test_gpu_check_runs_the_cpu_rows_and_says_cuda_is_absent(env):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the check runs for real in benchmarks/gpu_check.py")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu_check.py"), "--families", "tta",
                          "--repeats", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["status"].startswith("skipped") and doc["families"]["tta"]["onnx_cpu_parity_ok"]


def test_report_skips_an_unreadable_run_and_reports_the_others(env, tmp_path):
    store = tmp_path / "store"
    assert wb("run", "test.echo", "--out", str(store), env=env).returncode == 0
    good = next(store.iterdir())
    bad = store / "corrupt-run"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    out = wb("report", str(good), str(bad), "--out", str(tmp_path / "rep"), env=env)
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "unreadable, skipped" in html and "corrupt-run" in html and "test.echo" in html


def test_python_dash_m_workbench_and_a_closed_pipe(env):
    out = subprocess.run([sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "plugins" in out.stdout
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "plugins"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
