"""Bad input through the command line, as a user meets it: the job fails with a non-zero exit, the message names
the file, no traceback is printed, and the user's files are left exactly as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fault_corpus import PLY

GARBAGE = b"\x00\xffnot a file of this kind\x00" * 20


def wb(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture
def env(workbench_home):
    return {**os.environ, "WORKBENCH_HOME": str(workbench_home), "OMP_NUM_THREADS": "1"}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "good.ply").write_text(PLY)
    (folder / "bröken.ply").write_bytes(GARBAGE)
    (folder / "weights.safetensors").write_bytes(GARBAGE[:40])
    (folder / "recipe.yaml").write_text("steps:\n  - task: shapes.scenes\n    params: {count: -3}\n")
    run = folder / "old-run"
    run.mkdir()
    (run / "run.json").write_text('{"id": "x", "task": ')
    return folder


CASES = {
    "a garbage point cloud": (["run", "registration.register", "--set", "input=files",
                               "--set", "source_path={inputs}/bröken.ply", "--set", "target_path={inputs}/good.ply"],
                              1, "bröken.ply"),
    "truncated classifier weights": (["run", "ood.posthoc", "--set", "weights={inputs}/weights.safetensors"], 1,
                                     "weights.safetensors"),
    "a recipe with a bad value": (["batch", "{inputs}/recipe.yaml", "--out", "{out}"], 2, "recipe.yaml"),
    "a corrupt run.json to rerun": (["rerun", "{inputs}/old-run"], 2, "old-run/run.json"),
    "a corrupt run.json to report": (["report", "{inputs}/old-run", "--out", "{out}"], 2, "old-run"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_the_job_naming_the_file_and_touches_nothing(env, tmp_path, case):
    args, code, named = CASES[case]
    inputs = _inputs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier-results.txt").write_text("kept")
    before = _snapshot(tmp_path)
    result = wb(*[a.format(inputs=inputs, out=out) for a in args], env=env)
    assert result.returncode == code, result.stderr[-2000:]
    assert named in result.stderr and "Traceback" not in result.stderr
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before, "an existing file was changed"
    if code == 1:
        (run_dir,) = (Path(env["WORKBENCH_HOME"]) / "runs").iterdir()
        record = json.loads((run_dir / "run.json").read_text())
        assert record["state"] == "failed" and named in record["error"]
    else:
        assert not any(out.rglob("run.json"))
