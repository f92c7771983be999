"""Which build is running: a packaged app carries ``build_info.json`` (flavour, build time, bundled versions), written
by ``installer/build``; a workbench run from a checkout says ``source`` and one installed from a wheel says ``pip``.

``workbench --version`` and ``workbench info`` print it, so a lab can tell which build a workstation has.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import workbench

BUILD_INFO_FILE = "build_info.json"
DISTRIBUTION = "alignment-workbench"


def build_info() -> dict:
    """The packaged build's ``build_info.json``, or ``{"flavour": "source" | "pip"}`` when not frozen."""
    if not getattr(sys, "frozen", False):
        return {"flavour": _install_kind()}
    path = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / BUILD_INFO_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"flavour": "unknown", "error": f"cannot read {path}: {exc}"}


def _install_kind() -> str:
    """``source`` for a checkout or an editable install, ``pip`` for an installed wheel."""
    try:
        direct_url = distribution(DISTRIBUTION).read_text("direct_url.json")
    except PackageNotFoundError:
        return "source"
    editable = bool(direct_url and json.loads(direct_url).get("dir_info", {}).get("editable"))
    return "source" if editable else "pip"


def version_line() -> str:
    """``workbench 0.1.0 (cuda build 2026-12-02T03:10Z, torch 2.14.1+cu130)``, or ``(source)`` / ``(pip)``."""
    info = build_info()
    details = [f"{info['flavour']} build {info['built']}" if "built" in info else info["flavour"]]
    details += [f"{name} {version}" for name, version in info.get("versions", {}).items() if name == "torch"]
    return f"workbench {workbench.__version__} ({', '.join(details)})"
