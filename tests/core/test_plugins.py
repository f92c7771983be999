"""Plugin discovery, isolation, allow/deny, and the hooks (each hook has a test_hook_<name> here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbench.core.plugins import HOOK_NAMES, PluginHost


def _host(**extra):
    return PluginHost(extra=extra)


def test_builtin_plugins_load_through_entry_points():
    host = PluginHost()
    assert host.plugins["digits"].status == "loaded"
    assert host.plugins["ood-baselines"].status == "loaded"
    assert "ood.posthoc" in host.registry.tasks
    assert host.registry.tasks["ood.posthoc"].plugin == "ood-baselines"


def test_plugin_whose_import_raises_is_failed_and_others_work(test_plugins):
    host = _host(broken="wbtest_broken_import")
    info = host.plugins["broken"]
    assert info.status == "failed"
    assert "broken on purpose" in info.error and "Traceback" in info.traceback
    assert host.plugins["wbtest"].status == "loaded"
    assert "test.echo" in host.registry.tasks and "ood.posthoc" in host.registry.tasks


def test_malformed_manifest_is_failed_and_leaves_nothing_behind(test_plugins):
    host = _host(bad="wbtest_bad_manifest")
    info = host.plugins["bad"]
    assert info.status == "failed"
    assert "module:function" in info.error
    assert "bad.first" not in host.registry.tasks
    assert "test.echo" in host.registry.tasks


def test_unknown_hook_name_is_reported(test_plugins):
    host = _host(typo="wbtest_typo_hook")
    assert host.plugins["typo"].status == "failed"
    assert "workbench_register_taks" in host.plugins["typo"].error


def test_deny_and_allow_lists_from_env(test_plugins, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS_DENY", "ood-baselines")
    host = PluginHost()
    assert host.plugins["ood-baselines"].status == "disabled"
    assert "ood.posthoc" not in host.registry.tasks
    monkeypatch.delenv("WORKBENCH_PLUGINS_DENY")
    monkeypatch.setenv("WORKBENCH_PLUGINS_ALLOW", "digits")
    host = PluginHost()
    assert host.plugins["digits"].status == "loaded"
    assert host.plugins["ood-baselines"].status == "disabled"


def test_allow_list_from_config_file(tmp_path, monkeypatch):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("plugins:\n  deny: [digits]\n")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    host = PluginHost()
    assert host.plugins["digits"].status == "disabled"
    assert host.plugins["ood-baselines"].status == "loaded"


@pytest.mark.parametrize("text, message", [
    ("plugins: [digits]\n", "expected 'plugins:"),
    ("plugins: {deny: digits}\n", "expected 'plugins:"),
    ("plugins: {deny: [\n", "cannot read"),
])
def test_bad_config_file_is_a_clear_error(tmp_path, monkeypatch, text, message):
    from workbench.core.errors import UserError

    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    with pytest.raises(UserError, match=message) as info:
        PluginHost()
    assert str(cfg) in str(info.value)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(UserError, match="missing.yaml"):
        PluginHost()


def test_hook_workbench_register_tasks(test_plugins):
    spec = test_plugins.registry.tasks["test.echo"]
    assert spec.plugin == "wbtest" and spec.entry == "wbtest_tasks:echo"


def test_hook_workbench_register_sample_data(test_plugins):
    sample = test_plugins.registry.samples["test-sample"]
    from workbench.core.specs import resolve_entry

    assert resolve_entry(sample.loader)()["x"].tolist() == [0, 1, 2]
    assert "digits" in test_plugins.registry.samples


def test_hook_workbench_register_model_cards(test_plugins):
    assert test_plugins.registry.models["test-model"].metrics == {"acc": 1.0}
    card = test_plugins.registry.models["digits-cnn"]
    assert card.exporter and card.metrics["id_test_accuracy"] > 0.95 and card.plugin == "digits"
    assert card.weights_path.is_file() and card.loader == "wb_digits.zoo:load_card"


def test_hook_workbench_register_result_kinds(test_plugins, tmp_path):
    import numpy as np

    from workbench.core.results import Curves
    from workbench.render.report import export_with_renderer

    spec = test_plugins.registry.kind("wbtest.gauge")
    assert spec.plugin == "wbtest" and spec.figure == "wbtest_tasks:gauge_figure"
    from wbtest_tasks import Gauge

    files = export_with_renderer(Gauge(name="g", value=2.0), tmp_path)
    assert [f.suffix for f in files] == [".marker"]
    assert test_plugins.registry.kind("curves").plugin == "host"
    assert any("'curves' is already registered by 'host'" in r for r in test_plugins.plugins["wbtest"].rejected)
    assert [f.suffix for f in export_with_renderer(Curves(name="c", series={"y": np.zeros((2, 3))}), tmp_path)] \
        == [".png"]


def test_hook_workbench_register_recipes(test_plugins):
    recipes = test_plugins.registry.recipes
    assert recipes["demo"].plugin == "host" and recipes["demo"].path.name == "demo.yaml"
    from workbench.api import find_recipe

    assert find_recipe("zoo-digits-cnn") == recipes["zoo-digits-cnn"].path
    assert find_recipe("resources/recipes/demo.yaml").name == "demo.yaml"


def test_every_hook_is_documented_and_tested():
    """datasette-style: a hook without docs in docs/plugins.md or without a test_hook_<name> fails here."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "plugins.md").read_text()
    tests = "\n".join(p.read_text() for p in (root / "tests").rglob("test_*.py"))
    from workbench.core import hookspecs

    assert HOOK_NAMES, "no hooks found"
    for name in HOOK_NAMES:
        assert f"### `{name}(registry)`" in docs, f"hook {name} is not documented in docs/plugins.md"
        assert f"def test_hook_{name}(" in tests, f"hook {name} has no test_hook_{name}"
        assert getattr(hookspecs, name).__doc__, f"hook {name} has no docstring"


def test_listing_plugins_does_not_import_torch_qt_or_numpy():
    code = (
        "import sys, json, io, contextlib\n"
        "from workbench.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    main(['plugins', '--json'])\n"
        "json.loads(buf.getvalue())\n"
        "heavy = ('torch', 'open_clip', 'diffusers', 'open3d', 'PySide6', 'matplotlib', 'numpy', 'yaml')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(json.dumps(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_core_imports_no_qt():
    code = (
        "import sys, pkgutil, importlib, workbench.core\n"
        "for m in pkgutil.iter_modules(workbench.core.__path__):\n"
        "    importlib.import_module('workbench.core.' + m.name)\n"
        "import workbench.api, workbench.render.report, workbench.cli\n"
        "print([m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken'))])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
