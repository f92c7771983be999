"""Views leave no tracebacks behind: a view whose canvas still had an idle redraw queued used to be drawn after it
was closed or dropped, Python collected the view during that draw, Qt deleted the canvas under it, and matplotlib
printed "Internal C++ object (FigureCanvasQTAgg) already deleted" tracebacks into the test output."""

from __future__ import annotations

import sys

import result_samples as demo_results

from workbench.gui.views import create_view
from workbench.gui.views.base import FigureView


def test_closing_views_with_redraws_pending_prints_nothing(qtbot, capsys, monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    queued, kept = 0, []
    for _ in range(3):
        for result in demo_results.all_demo_results():
            view = create_view(result)
            view.resize(900, 600)
            view.show()
            qtbot.waitExposed(view)
            view.resize(700, 500)
            if isinstance(view, FigureView) and view.canvas is not None:
                view.canvas.draw_idle()  # a redraw still queued when the view closes
                queued += 1
            if len(kept) < 8:
                kept.append(view)  # on screen, dropped below without being closed
            else:
                view.close()
            del view
        kept.clear()  # the views on screen that nothing refers to any more are collected while they draw
        qtbot.wait(100)
    err = capsys.readouterr().err
    assert queued >= 15
    assert "Traceback" not in err and "already deleted" not in err, err[-2000:]
    assert not unraisable, unraisable


def test_a_shown_view_still_draws_its_figure(qtbot):
    view = create_view(next(r for r in demo_results.all_demo_results() if r.kind == "curves"))
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    assert isinstance(view, FigureView)
    qtbot.waitUntil(lambda: hasattr(view.canvas, "renderer"))
    image = view.canvas.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 3  # the figure, not a blank widget
