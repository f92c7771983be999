"""Where the workbench keeps its runs and finds its zoo models and resources."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def home() -> Path:
    """``$WORKBENCH_HOME``, else ``~/.local/share/workbench``: the default run store lives here."""
    return Path(os.environ.get("WORKBENCH_HOME", Path.home() / ".local" / "share" / "workbench"))


def runs_dir() -> Path:
    return home() / "runs"


def models_dir() -> Path:
    """The model zoo: ``$WORKBENCH_MODELS``, else ``models/`` of the source tree."""
    return Path(os.environ.get("WORKBENCH_MODELS", _PACKAGE_ROOT / "models"))


def resources_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_RESOURCES", _PACKAGE_ROOT / "resources"))
