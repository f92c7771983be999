"""The wheel is complete: every package is listed, the zoo and the recipes are package data, and a wheel installed
into a fresh environment runs a demo step from another folder, offline, with its own zoo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_python_package_in_the_tree_is_listed_in_pyproject():
    tool = _pyproject()["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "workbench").rglob("__init__.py")}
    on_disk |= {p.parent.name for p in (ROOT / "plugins").glob("*/__init__.py")}
    on_disk |= {"workbench_models", "workbench_resources"}
    assert set(tool["packages"]) == on_disk
    assert tool["package-dir"]["workbench_models"] == "models"
    assert tool["package-dir"]["workbench_resources"] == "resources"


def test_every_shipped_card_names_its_plugin_loader_and_recipe():
    from workbench.core.plugins import PluginHost
    from workbench.core.registry import read_card

    host = PluginHost()
    for path in sorted((ROOT / "models").glob("*/card.json")):
        card = read_card(path)
        assert card.plugin in host.plugins and card.loader, path
        assert card.weights_path.is_file() and card.recipe in host.registry.recipes, path
        assert host.registry.models[card.id].plugin == card.plugin


def test_package_data_patterns_ship_every_zoo_and_resource_file_nested_ones_too():
    data = _pyproject()["tool"]["setuptools"]["package-data"]
    shipped = {}
    for package, folder in (("workbench_models", "models"), ("workbench_resources", "resources")):
        root = ROOT / folder
        shipped[package] = {p for pattern in data[package] for p in root.glob(pattern) if p.is_file()}
        on_disk = {p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert on_disk - shipped[package] == set(), f"{package}: files the wheel would leave out"
    assert ROOT / "models" / "tiny-shapes-sd" / "unet" / "config.json" in shipped["workbench_models"]


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_runs_a_demo_step_offline(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__",
                                                                 ".*_cache", ".hypothesis"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(source)], check=True, timeout=600)
    (wheel,) = wheels.glob("alignment_workbench-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "workbench_models/tiny-shapes-sd/unet/diffusion_pytorch_model.safetensors" in archive.namelist()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheel)], check=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WORKBENCH_EXTRA_PLUGINS")}
    env.update(WORKBENCH_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", WORKBENCH_OFFLINE="1")
    workbench = str(env_dir / "bin" / "workbench")

    def run(*args):
        out = subprocess.run([workbench, *args], cwd=elsewhere, env=env, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    where = subprocess.run([str(python), "-c", "import workbench, workbench_models; from workbench.api import "
                            "zoo_card; print(workbench.__file__); print(zoo_card('tiny-clip').folder)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(env_dir) in p for p in where), where
    plugins = json.loads(run("plugins", "--json"))
    assert {p["name"] for p in plugins if p["status"] == "loaded"} >= {"digits", "ood-baselines", "shapes-clip",
                                                                        "registration", "tta", "ood-train",
                                                                        "clip-heatmaps"}
    assert not [p for p in plugins if p["status"] == "failed"]
    assert "demo" in run("recipes")
    out = run("batch", "demo", "--shard", "1/7", "--out", str(tmp_path / "demo"))
    assert "completed" in out and (tmp_path / "demo" / "report" / "index.html").is_file()
    assert "ood.posthoc" in (tmp_path / "demo" / "batch.json").read_text()
    assert not list(elsewhere.iterdir()), "nothing is written into the working directory"
