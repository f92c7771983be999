"""What the Help menu shows: where the documentation is, the versions for "About", the log folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion

import workbench
from workbench.core import assets
from workbench.core.devices import package_versions

if TYPE_CHECKING:
    from workbench.core.plugins import PluginHost


def docs_location() -> Path | None:
    """The README of the source tree the workbench runs from (an editable install), else None (a wheel)."""
    readme = Path(workbench.__file__).resolve().parents[1] / "README.md"
    return readme if readme.is_file() else None


def log_folder() -> Path:
    """Where the window's log (``gui.log``) is written; each run's own ``log.txt`` stays in its run folder."""
    folder = assets.home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def about_html(host: PluginHost) -> str:
    """Versions of the workbench, Python, Qt and the key packages, and the plugins with theirs."""
    import platform

    versions = package_versions()
    rows = [("Alignment Workbench", versions.get("alignment-workbench", "?")),
            ("Python", platform.python_version()), ("Qt / PySide6", f"{qVersion()} / {pyside_version}"),
            *((name, v) for name, v in versions.items() if name != "alignment-workbench")]
    plugins = [(f"plugin {p.name}", f"{p.version} ({p.status})") for p in host.plugins.values() if p.name != "host"]
    cells = "".join(f"<tr><td>{name}</td><td>{value}</td></tr>" for name, value in rows + plugins)
    return (f"<h3>Alignment Workbench</h3><p>Runs and settings: {assets.home()}</p>"
            f"<table cellspacing='4'>{cells}</table>")
