"""Every result view fits a 1280x800 screen: control bars wrap, readouts wrap, the window never grows."""

from __future__ import annotations

import dataclasses

import numpy as np
import result_samples as demo_results
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage

from workbench.core import results as R
from workbench.gui.views import create_view

SCREEN = QSize(1280, 800)


def _wide_scores() -> R.ScoreSet:
    """Many OOD sets with long names and long detector names: the readout is a very long line."""
    rng = np.random.default_rng(0)
    sets = ["in-distribution test split"] + [f"out-of-distribution set number {i} (far, textures)" for i in range(8)]
    dets = ["maximum softmax probability", "energy score with temperature 1.0", "mahalanobis tied covariance"]
    scores = {d: {s: rng.normal(i % 3, 1.0, 50) for i, s in enumerate(sets)} for d in dets}
    return R.ScoreSet(name="wide", title="wide scores", scores=scores, id_set=sets[0],
                      groups={s: "far" for s in sets[1:]})


def _every_kind() -> list[R.Result]:
    results = demo_results.all_demo_results()
    heat = next(r for r in results if r.kind == "heatmap")
    return [*results, _wide_scores(), dataclasses.replace(heat, title="x" * 300, label="y" * 200)]


def test_every_result_view_is_narrow_and_its_readout_wraps(qtbot):
    views = []  # kept: a view dropped while matplotlib has a redraw queued would be collected under it
    for result in _every_kind():
        view = create_view(result)  # through the registry, as the window does
        qtbot.addWidget(view)
        views.append(view)
        hint = view.minimumSizeHint()
        assert hint.width() <= 640, (result.kind, result.name, hint)
        assert hint.height() <= 400, (result.kind, result.name, hint)
    view = create_view(_wide_scores())
    qtbot.addWidget(view)
    view.resize(420, 600)
    view.show()
    qtbot.waitExposed(view)
    assert view.width() == 420
    assert "ID kept" in view.readout.text() and len(view.readout.text()) > 200
    assert view.readout.height() > 2 * view.readout.fontMetrics().height()  # wrapped onto several lines
    assert view.readout.geometry().right() <= view.width()
    controls = [view.controls.itemAt(i).geometry() for i in range(view.controls.count())]
    assert all(g.right() <= view.width() for g in controls)
    assert len({g.y() for g in controls}) > 1  # the control bar flowed onto a second row


def test_window_with_every_result_open_fits_a_1280x800_screen(window, qtbot):
    window.resize(SCREEN)
    qtbot.wait(50)
    assert window.size() == SCREEN
    for result in _every_kind():
        window.show_result("layout-test", result)
        qtbot.wait(20)
        hint = window.minimumSizeHint()
        assert hint.width() <= SCREEN.width() and hint.height() <= SCREEN.height(), (result.kind, hint)
        assert window.size() == SCREEN, (result.kind, window.size())
    assert window.centralWidget().width() >= 540  # the side docks leave the results most of the width
    curves = demo_results.sgd_curves(epochs=3)
    for i in range(10):
        window.show_result(f"20261202-0000{i:02d}-some.task-abc{i:03d}", curves, "A task with a long title")
    qtbot.wait(20)
    bar = window.tabs.tabBar()
    widths = [bar.tabRect(i).width() for i in range(bar.count()) if bar.tabText(i).startswith("A task")]
    assert len(widths) == 10
    assert min(widths) >= 150, widths  # scrolls rather than "…"
    assert window.size() == SCREEN and window.minimumSizeHint().width() <= SCREEN.width()


def test_screenshot_main_window_is_1280x800(window, qtbot, tmp_path, monkeypatch):
    from workbench.gui import screenshots

    monkeypatch.setattr(screenshots, "_screenshot_requests", lambda win: [])
    for result in _every_kind():
        window.show_result("layout-test", result)
    written = screenshots.take_screenshots(window, tmp_path, job_timeout=1)
    image = QImage(str(tmp_path / "main-window.png"))
    assert tmp_path / "main-window.png" in written
    assert (image.width(), image.height()) == (SCREEN.width(), SCREEN.height())



def test_long_error_messages_and_job_titles_do_not_widen_the_window(window, qtbot):
    from workbench.core.runner import RunRequest
    from workbench.gui.jobs import JobEntry

    window.resize(SCREEN)
    panel = window.show_error("a step with a long title " * 12, "/a/long/path/without/any/spaces" * 30, "tb")
    entry = JobEntry(key=10**6, request=RunRequest(task="fake.long"), title="recipe 3/7: a-long-step-name-" * 6)
    window.jobs.entries[entry.key] = entry
    window.jobs.added.emit(entry)
    qtbot.wait(20)
    assert window.minimumSizeHint().width() <= SCREEN.width()
    assert window.size() == SCREEN
    assert panel.message.width() <= window.width()
    window.jobs.entries.pop(entry.key)
