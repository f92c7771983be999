"""The import graph between plugins: a plugin reaches another only through that plugin's public ``api`` module,
and only when its tasks declare the dependency (``requires``); everything else goes through ``workbench.api``."""

from __future__ import annotations

import ast
from pathlib import Path

from workbench.core.plugins import PluginHost

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
#: The deliberate cross-plugin libraries, and why: see docs/plugins.md.
PUBLIC = {"wb_ood.api", "wb_digits.api", "wb_shapes.api", "wb_clipmap.api"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_no_plugin_imports_another_plugins_private_modules():
    offences = []
    for package in sorted(p for p in PLUGINS.iterdir() if (p / "__init__.py").is_file()):
        for path in sorted(package.rglob("*.py")):
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top.startswith("wb_") and top != package.name and module not in PUBLIC:
                    offences.append(f"{path.relative_to(PLUGINS)}:{line} imports {module}")
    assert not offences, "plugins import other plugins' private modules:\n" + "\n".join(offences)


def test_every_cross_plugin_import_is_a_declared_dependency():
    host = PluginHost()
    package_of = {info.module.split(".")[0]: name for name, info in host.plugins.items() if info.module}
    for package in sorted(p for p in PLUGINS.iterdir() if (p / "__init__.py").is_file()):
        used = {m.split(".")[0] for path in package.rglob("*.py") for _, m in _imports(path)
                if m in PUBLIC and not m.startswith(package.name + ".")}
        if not used:
            continue
        plugin = package_of[package.name]
        for spec in host.registry.tasks.of_plugin(plugin):
            missing = {package_of[u] for u in used} - set(spec.requires)
            assert not missing, f"{spec.id} ({plugin}) uses {sorted(used)} but does not require {sorted(missing)}"


def test_the_check_catches_a_private_import(tmp_path):
    bad = tmp_path / "wb_bad"
    bad.mkdir()
    (bad / "__init__.py").write_text("")
    (bad / "x.py").write_text("from wb_digits.world import load_digits_world\nimport wb_ood.api\n")
    modules = [m for _, m in _imports(bad / "x.py")]
    assert [m for m in modules if m.split(".")[0] != "wb_bad" and m not in PUBLIC] == ["wb_digits.world"]
