"""Extra plugin folders: a third-party plugin wheel (built here by hand) or an unpacked one loads, no rebuild."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.core.plugins import PluginHost

PLUGIN_SOURCE = '''"""wbx_hello: a third-party plugin shipped as a wheel."""
from workbench.api import Family, MetricsTable, TaskSpec, VersionedParams, hookimpl


class HelloParams(VersionedParams):
    times: int = 2


def run(params, ctx):
    yield MetricsTable(name="hello", columns=["greeting"], rows=[["hello"] for _ in range(params.times)])


@hookimpl
def workbench_register_tasks(registry):
    registry.add_task(TaskSpec(id="hello.greet", title="Say hello", family=Family.DATA, entry=f"{__name__}:run",
                               params=HelloParams, backends=("cpu",), execution="inproc", outputs=("metrics",)))
'''


def make_wheel(folder: Path, dist: str = "wbx-hello", requires: tuple[str, ...] = ()) -> Path:
    """A minimal valid wheel: the package, METADATA, an entry point in ``workbench.plugins``, WHEEL."""
    package = dist.replace("-", "_")
    info = f"{package}-1.2.0.dist-info"
    metadata = "".join(["Metadata-Version: 2.1\n", f"Name: {dist}\n", "Version: 1.2.0\n",
                        "Requires-Python: >=3.10\n", *(f"Requires-Dist: {r}\n" for r in requires)])
    path = folder / f"{package}-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr(f"{package}/__init__.py", "")
        wheel.writestr(f"{package}/plugin.py", PLUGIN_SOURCE)
        wheel.writestr(f"{info}/METADATA", metadata)
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/entry_points.txt", f"[workbench.plugins]\n{dist} = {package}.plugin\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch) -> Path:
    """An empty plugins folder named by WORKBENCH_PLUGINS_PATH; sys.path is restored afterwards."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGINS_PATH", str(folder))
    monkeypatch.setattr(sys, "path", list(sys.path))
    return folder


def _host(*names: str) -> PluginHost:
    return PluginHost(allow=set(names))


def test_wheel_in_plugins_folder_loads_and_its_task_runs(plugin_dir, workbench_home):
    make_wheel(plugin_dir)
    host = _host("wbx-hello")
    info = host.plugins["wbx-hello"]
    assert (info.status, info.version, info.tasks) == ("loaded", "1.2.0", ["hello.greet"])
    assert Path(info.source).parent == workbench_home / "cache" / "plugin-wheels"
    out = subprocess.run([sys.executable, "-m", "workbench", "run", "hello.greet", "--set", "times=3",
                          "--out", str(workbench_home / "runs")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    record = json.loads(next((workbench_home / "runs").glob("*/run.json")).read_text())
    assert record["state"] == "completed" and record["params"]["times"] == 3


def test_unpacked_package_in_plugins_folder_loads(plugin_dir):
    with zipfile.ZipFile(make_wheel(plugin_dir.parent)) as wheel:
        wheel.extractall(plugin_dir / "wbx-hello")
    host = _host("wbx-hello")
    assert host.plugins["wbx-hello"].status == "loaded"
    assert "hello.greet" in host.registry.tasks


def test_incompatible_requirement_is_listed_as_failed_with_the_reason(plugin_dir):
    make_wheel(plugin_dir, "wbx-old", requires=("numpy<1.0", "no-such-package-wbx>=1", "pywin32; sys_platform == 'x'"))
    info = _host("wbx-old").plugins["wbx-old"]
    assert info.status == "failed"
    assert "requires numpy<1.0, but numpy" in info.error
    assert "requires no-such-package-wbx>=1, which is not installed" in info.error
    assert "pywin32" not in info.error


def test_corrupt_wheel_and_missing_folder_are_clear_failures_and_others_load(plugin_dir, tmp_path, monkeypatch):
    good = make_wheel(plugin_dir)
    corrupt = plugin_dir / "wbx_broken-1.0-py3-none-any.whl"
    corrupt.write_bytes(good.read_bytes()[:300])
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("WORKBENCH_PLUGINS_PATH", f"{plugin_dir}:{missing}")
    host = _host("wbx-hello")
    assert host.plugins["wbx-hello"].status == "loaded"
    broken = host.plugins[corrupt.name]
    assert broken.status == "failed" and f"corrupt wheel {corrupt}" in broken.error
    assert f"names {missing}, which is not a folder" in host.plugins["nowhere"].error


def test_plugin_named_like_an_installed_one_is_refused(plugin_dir):
    make_wheel(plugin_dir, "digits")
    host = PluginHost()
    assert host.plugins["digits"].status == "loaded"
    clash = next(p for n, p in host.plugins.items() if n.startswith("digits ("))
    assert clash.status == "failed" and "already installed" in clash.error
