"""The one-file third-party plugin of docs/plugins.md, as written there, outside the source tree: its own result
kind runs in-process and in a worker, renders in the HTML report and in ``workbench report``, and opens in the GUI
with its figure. Uses the ``workbench_host`` fixture the workbench ships for plugin authors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


@pytest.fixture
def example_dir(tmp_path) -> Path:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    source = next(b for b in blocks if "wb_entropy" in b)
    folder = tmp_path / "third-party"
    folder.mkdir()
    (folder / "wb_entropy.py").write_text(source)
    return folder


@pytest.fixture
def host(workbench_host, example_dir):
    host = workbench_host(extra={"wb-entropy": "wb_entropy"}, allow=["digits"], paths=[example_dir])
    assert host.plugins["wb-entropy"].status == "loaded", host.plugins["wb-entropy"].traceback
    assert host.plugins["ood-baselines"].status == "disabled"
    return host


@pytest.mark.parametrize("execution", ["inproc", "worker"])
def test_the_example_runs_with_its_own_result_kind(host, execution):
    seen = []
    job, record = host.runner().run(RunRequest(task="entropy.profile", execution=execution), on_event=seen.append)
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    results = {r.name: r for r in RunStore.results(job.run_dir)}
    profile = results["entropy"]
    assert type(profile).__name__ == "EntropyProfile" and profile.kind == "wb-entropy.profile"
    assert profile.entropies["id-test"].mean() < profile.entropies["noise"].mean()
    assert all(type(e.result).__name__ in ("EntropyProfile", "MetricsTable") for e in seen if e.kind == "result")
    from workbench.render.report import build_report

    index = build_report([job.run_dir], job.run_dir / "report")
    assert "figures/" in index.read_text() and (index.parent / "figures" / job.record.id / "entropy.png").is_file()


def test_the_example_on_onnx_and_through_the_cli_report(host, example_dir, tmp_path):
    job, record = host.runner().run(RunRequest(task="entropy.profile", backend="onnx", execution="worker"))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    assert "ONNX Runtime" in (job.run_dir / "log.txt").read_text()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example_dir), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "report", str(job.run_dir), "--out",
                          str(tmp_path / "rep")], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rep" / "figures" / record.id / "entropy.png").is_file()
    env.pop("WORKBENCH_EXTRA_PLUGINS", None)
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "report", str(job.run_dir), "--out",
                          str(tmp_path / "rep2")], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rep2" / "figures" / record.id / "entropy.png").is_file(), "generic listing of the kind"


def test_the_example_opens_in_the_gui_with_its_figure(host, qtbot):
    from workbench.gui.views import create_view
    from workbench.gui.views.kinds import GenericFigureView

    job, record = host.runner().run(RunRequest(task="entropy.profile", execution="inproc"))
    profile = next(r for r in RunStore.results(job.run_dir) if r.kind == "wb-entropy.profile")
    view = create_view(profile)
    qtbot.addWidget(view)
    assert isinstance(view, GenericFigureView)
    assert view.canvas.figure.axes[0].get_xlabel() == "predictive entropy (nats)"
    assert view.png_bytes()[:4] == b"\x89PNG"
