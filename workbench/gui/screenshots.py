"""``workbench gui --screenshot DIR``: render the main window and one view per result kind to PNGs.

A real task (the first registered task that trains for a number of ``epochs``, three epochs) runs
through the window's job queue; kinds it does not produce are filled from ``demo_results``' real
computations. Works offscreen (``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

from workbench.core.runner import RunRequest
from workbench.gui.main_window import MainWindow

WINDOW_SIZE = QSize(1500, 920)
VIEW_SIZE = QSize(1100, 760)


def _quick_request(window: MainWindow) -> RunRequest | None:
    """A short real job: a task with an ``epochs`` parameter run for three epochs (digits training if present)."""
    tasks = sorted(window.host.registry.tasks.values(), key=lambda t: t.id != "digits.train-classifier")
    for spec in tasks:
        if "epochs" in spec.params.model_fields:
            return RunRequest(task=spec.id, params={"epochs": 3}, device="cpu")
    return None


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


def take_screenshots(window: MainWindow, out_dir: Path, job_timeout: float = 180.0) -> list[Path]:
    from workbench.gui.demo_results import all_demo_results

    out_dir.mkdir(parents=True, exist_ok=True)
    window.resize(WINDOW_SIZE)
    window.show()
    _wait(lambda: False, 0.3)
    written = [out_dir / "main-window-empty.png"]
    window.grab().save(str(written[-1]))

    shown: dict[str, object] = {}
    request = _quick_request(window)
    if request is not None:
        window.select_task(request.task)
        window.form.set_values(request.params)
        entry = window.submit(request)
        _wait(lambda: entry.finished, job_timeout)
        for (run_id, _name), view in window.views.items():
            if entry.record is not None and run_id == entry.record.id:
                shown.setdefault(view.result.kind, view)
    for result in all_demo_results():
        if result.kind not in shown:
            shown[result.kind] = window.show_result("demo", result)
    _wait(lambda: False, 0.5)
    for kind, view in shown.items():
        written.append(_view_png(view.result, out_dir / f"view-{kind}.png"))
    scores = shown.get("scores")
    if scores is not None:
        window.tabs.setCurrentWidget(scores)
    window.history.refresh()
    _wait(lambda: False, 0.3)
    written.append(out_dir / "main-window.png")
    window.grab().save(str(written[-1]))
    return written
