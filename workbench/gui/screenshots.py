"""``workbench gui --screenshot DIR``: render the main window and one view per result kind to PNGs.

The steps of ``resources/recipes/screenshots.yaml`` (real plugin tasks) run through the window's job queue,
as a user's jobs would; the first view of each result kind is saved. Steps whose task is not installed are
skipped. Works offscreen (``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

from workbench.core import assets
from workbench.core.recipes import parse_recipe
from workbench.core.runner import RunRequest
from workbench.gui.main_window import MainWindow

WINDOW_SIZE = QSize(1280, 800)  # a small laptop screen: the window and every view must fit it
VIEW_SIZE = QSize(1100, 760)


def _screenshot_requests(window: MainWindow) -> list[RunRequest]:
    """The screenshot recipe's steps whose tasks this installation has."""
    path = assets.resource("recipes", "screenshots.yaml")
    doc = yaml.safe_load(path.read_text())
    doc["steps"] = [step for step in doc["steps"] if step["task"] in window.host.registry.tasks]
    return parse_recipe(yaml.safe_dump(doc), str(path), window.host.registry).steps if doc["steps"] else []


def _wait(predicate, timeout: float) -> bool:
    app = QApplication.instance()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _view_png(result, path: Path) -> Path:
    """The view on its own, large enough to show the whole figure without scrolling."""
    from workbench.gui.views import create_view

    view = create_view(result)
    size = QSize(VIEW_SIZE)
    canvas = getattr(view, "canvas", None)
    if canvas is not None:
        w, h = canvas.figure.get_size_inches() * canvas.figure.dpi
        size = size.expandedTo(QSize(int(w) + 40, int(h) + 110))
    view.resize(size)
    view.show()
    _wait(lambda: False, 0.3)
    view.grab().save(str(path))
    view.close()
    view.deleteLater()
    return path


def take_screenshots(window: MainWindow, out_dir: Path, job_timeout: float = 600.0) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    window.resize(WINDOW_SIZE)
    window.show()
    _wait(lambda: False, 0.3)
    written = [out_dir / "main-window-empty.png"]
    window.grab().save(str(written[-1]))

    shown: dict[str, object] = {}
    entries = [window.submit(request) for request in _screenshot_requests(window)]
    _wait(lambda: all(entry.finished for entry in entries), job_timeout)
    finished = {entry.record.id for entry in entries if entry.record is not None}
    for (run_id, _name), view in window.views.items():
        if run_id in finished:
            shown.setdefault(view.result.kind, view)
    _wait(lambda: False, 0.5)
    for kind, view in shown.items():
        written.append(_view_png(view.result, out_dir / f"view-{kind}.png"))
    scores = shown.get("scores")
    if scores is not None:
        window.focus_view(scores)
    window.history.refresh()
    _wait(lambda: False, 0.3)
    written.append(out_dir / "main-window.png")
    window.grab().save(str(written[-1]))
    return written
