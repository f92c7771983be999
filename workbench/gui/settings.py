"""What the window remembers between starts: layout, recent files, the last parameters per task.

Kept in ``$WORKBENCH_HOME/gui.ini`` (an INI ``QSettings``) beside the runs, so a test's private
``WORKBENCH_HOME`` gives it private settings too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from workbench.core import assets

MAX_RECENT = 10


def open_settings() -> QSettings:
    return QSettings(str(assets.home() / "gui.ini"), QSettings.Format.IniFormat)


def recent_files(settings: QSettings) -> list[Path]:
    """Recipes and run folders opened lately, newest first (ones that vanished are dropped)."""
    raw = settings.value("recent/files", "[]")
    try:
        names = json.loads(raw) if isinstance(raw, str) else []
    except json.JSONDecodeError:
        names = []
    return [Path(n) for n in names if isinstance(n, str) and Path(n).exists()]


def add_recent_file(settings: QSettings, path: Path) -> list[Path]:
    path = Path(path).resolve()
    paths = [path, *(p for p in recent_files(settings) if p != path)][:MAX_RECENT]
    settings.setValue("recent/files", json.dumps([str(p) for p in paths]))
    return paths


def last_request(settings: QSettings, task: str) -> dict[str, Any] | None:
    """The form state last run for ``task`` (``params``, ``backend``, ``device``, ``seed``, ``execution``)."""
    raw = settings.value(f"last-run/{task}")
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def remember_request(settings: QSettings, task: str, request: dict[str, Any]) -> None:
    settings.setValue(f"last-run/{task}", json.dumps(request, default=str))
