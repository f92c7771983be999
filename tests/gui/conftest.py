"""GUI test fixtures: the real main window offscreen, with the test-only plugins loaded through the
environment (so worker subprocesses see them too)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

FAKES = Path(__file__).parent / "fake_plugins"


@pytest.fixture(autouse=True)
def collect_widgets_here(qtbot):
    """After each test, collect its dropped widgets on the GUI thread: left to chance, Python's collector may run
    in a later test's job thread and delete Qt widgets there (a crash)."""
    yield
    gc.collect()
    qtbot.wait(1)


@pytest.fixture
def fake_plugins(monkeypatch):
    from workbench.core.plugins import reset_host

    monkeypatch.setenv("WORKBENCH_EXTRA_PLUGINS", "gui-fakes=wb_gui_fakes,gui-broken=wb_gui_broken")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(FAKES))
    reset_host()
    yield
    reset_host()
    sys.modules.pop("wb_gui_fakes", None)


@pytest.fixture
def window(qtbot, fake_plugins):
    from workbench.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.jobs.cancel_all()
    win.jobs.wait(10000)
    qtbot.waitUntil(lambda: not win.jobs.running(), timeout=10000)  # else closing asks about running jobs


def _wait_finished(qtbot, entry, timeout_s: float = 120.0) -> None:
    qtbot.waitUntil(lambda: entry.finished, timeout=int(timeout_s * 1000))


@pytest.fixture
def wait_finished(qtbot):
    """``wait_finished(entry, timeout_s)``: block (processing Qt events) until the job's thread returned."""
    return lambda entry, timeout_s=120.0: _wait_finished(qtbot, entry, timeout_s)


@pytest.fixture
def run_task(qtbot):
    """``run_task(win, task_id, values)``: choose the task, fill the form, press Run, wait for the job."""

    def run(win, task_id: str, values: dict | None = None, timeout_s: float = 120.0):
        win.browser.select_task(task_id)
        assert win.form.spec is not None and win.form.spec.id == task_id
        win.form.set_values(values or {})
        assert win.form.run_button.isEnabled(), win.form.problem.text()
        before = set(win.jobs.entries)
        win.form.run_button.click()
        (key,) = set(win.jobs.entries) - before
        entry = win.jobs.entries[key]
        _wait_finished(qtbot, entry, timeout_s)
        return entry

    return run
