"""Views you can explore: zoom and pan on every figure, per-item tables that show the item's picture, a heatmap's
caption with the flagged words, the whole figure saved as PNG, a one-point live curve, headers that fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import result_samples as demo_results
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from workbench.core import results as R
from workbench.gui.views import create_view
from workbench.gui.views.base import FigureView
from workbench.gui.views.kinds import CurvesView, HeatmapView, ImageGridView, ScoresView
from workbench.render.export import figure_png


@pytest.fixture(scope="module")
def digits():
    return demo_results.digits_scores()


def _show(qtbot, view, size=(1000, 700)):
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return view


def _drag(qtbot, canvas, ax, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag with the left button between two points given as fractions of ``ax``'s box."""
    box, height, ratio = ax.bbox, canvas.height(), canvas.device_pixel_ratio

    def point(fx, fy):
        return QPoint(int((box.x0 + fx * box.width) / ratio), int(height - (box.y0 + fy * box.height) / ratio))

    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=point(*start))
    qtbot.mouseMove(canvas, point(*end))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=point(*end))


def test_every_figure_has_the_navigation_toolbar(qtbot):
    views = [_show(qtbot, create_view(r)) for r in demo_results.all_demo_results()]
    figures = [v for v in views if isinstance(v, FigureView)]
    assert {v.result.kind for v in figures} >= {"scores", "heatmap", "regions", "curves", "registration"}
    for view in figures:
        names = {a.text() for a in view.toolbar.actions()}
        assert {"Home", "Pan", "Zoom", "Save"} <= names, view.result.kind
        assert view.toolbar.canvas is view.canvas


def test_zoom_by_dragging_survives_a_redraw_and_home_undoes_it(qtbot, digits):
    view = _show(qtbot, HeatmapView(digits[2]))
    ax = view.canvas.figure.axes[0]
    full = ax.get_xlim()
    view.toolbar.zoom()
    _drag(qtbot, view.canvas, ax, (0.2, 0.2), (0.6, 0.6))
    zoomed = ax.get_xlim()
    assert abs(zoomed[1] - zoomed[0]) < 0.6 * abs(full[1] - full[0])
    view.opacity.setValue(90)  # a control change redraws the figure: the zoomed view stays
    view.draw_now()
    ax = view.canvas.figure.axes[0]
    assert ax.get_xlim() == pytest.approx(zoomed)
    view.toolbar.home()
    assert ax.get_xlim() == pytest.approx(full)


def test_pan_moves_the_view(qtbot):
    view = _show(qtbot, CurvesView(demo_results.sgd_curves(epochs=5)))
    ax = view.canvas.figure.axes[0]
    before = ax.get_xlim()
    view.toolbar.pan()
    _drag(qtbot, view.canvas, ax, (0.5, 0.5), (0.8, 0.5))
    after = ax.get_xlim()
    assert after[0] < before[0] and after[1] < before[1]


def test_clicking_a_score_row_shows_that_items_picture(qtbot, digits):
    scores = digits[0]
    pictures = {name: (np.random.default_rng(i).random((len(v), 8, 8)) * 255).astype(np.uint8)
                for i, (name, v) in enumerate(scores.scores[scores.detectors[0]].items())}
    with_items = dataclasses.replace(scores, thumbnails=pictures)
    view = _show(qtbot, ScoresView(with_items))
    view.tabs.setCurrentWidget(view.browser)
    table = view.table
    table.sortByColumn(3, Qt.SortOrder.AscendingOrder)  # sorted: the row on screen is not the model's row
    index = table.model().index(5, 0)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())
    row = table.model().order[5]
    set_name, i = view.item_keys[row]
    assert view.browser.shown_row == row
    shown = view.browser.picture.pixmap().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    assert shown.width() == 220  # enlarged from 8x8 without smoothing: each pixel a 27x27 block
    assert shown.pixelColor(5, 5).red() == pictures[set_name][i][0, 0]
    assert view.browser.caption.text().startswith(f"{set_name} #{i}")


def test_score_rows_without_thumbnails_use_image_paths_or_say_there_is_none(qtbot, digits, tmp_path):
    scores = digits[0]
    first_set = next(iter(scores.scores[scores.detectors[0]]))
    image = QImage(16, 16, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.red)
    path = tmp_path / "item.png"
    image.save(str(path))
    n = len(scores.scores[scores.detectors[0]][first_set])
    view = _show(qtbot, ScoresView(dataclasses.replace(scores, item_paths={first_set: [str(path)] * n})))
    view.browser.show_row(0)
    assert view.browser.picture.pixmap().toImage().pixelColor(3, 3).red() == 255
    view.browser.show_row(n)  # the next set has neither
    assert view.browser.picture.text() == "no picture for this item"


def test_clicking_an_image_grid_row_shows_it_large(qtbot, digits):
    grid = digits[1]
    view = _show(qtbot, ImageGridView(grid))
    view.tabs.setCurrentWidget(view.browser)
    table = view.table
    cell = table.visualRect(table.model().index(3, 1)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert view.browser.shown_row == 3 and grid.captions[3] in view.browser.caption.text()
    assert view.browser.picture.pixmap().width() == 220


def test_heatmap_shows_its_caption_with_the_flagged_words(qtbot, digits):
    heat = dataclasses.replace(digits[2], caption_words=["a", "red", "<square>", "above"],
                               caption_flags=[False, True, True])
    view = _show(qtbot, HeatmapView(heat))
    text = view.caption.text()
    assert view.caption.isVisible() and text.startswith("caption: a ")
    assert text.count("<b>") == 2 and "<b>red</b>" in text and "<b>&lt;square&gt;</b>" in text
    assert "above" in text and "<b>above" not in text
    plain = _show(qtbot, HeatmapView(digits[2]))
    assert not plain.caption.isVisible()
    assert "[red]" in heat_figure_caption(heat)


def heat_figure_caption(heat: R.Heatmap) -> str:
    from workbench.render.figures import build_figure

    return build_figure(heat)._supxlabel.get_text()


def test_save_as_png_keeps_the_whole_figure_even_in_a_small_view(qtbot, digits, tmp_path):
    view = _show(qtbot, ScoresView(digits[0]), size=(420, 300))
    path = view.save_png(tmp_path / "scores.png")
    saved = QImage(str(path))
    assert path.read_bytes() == figure_png(view.result, **view.figure_options())  # the report's whole picture
    assert saved.width() > view.scroll.viewport().width() and saved.height() > view.scroll.viewport().height()


def test_a_live_curve_with_one_point_shows_the_point(qtbot):
    one = R.Curves(name="live", series={"loss": np.array([[0.0], [1.5]])})
    view = _show(qtbot, CurvesView(one))
    (line,) = view.canvas.figure.axes[0].lines
    assert line.get_marker() == "o" and list(line.get_ydata()) == [1.5]
    view.update_result(R.Curves(name="live", series={"loss": np.array([[0.0, 1.0], [1.5, 1.2]])}))
    assert view.canvas.figure.axes[0].lines[0].get_marker() in ("None", None, "")


def test_table_headers_fit_their_columns(qtbot, digits):
    view = _show(qtbot, ScoresView(digits[0]))
    header = view.table.horizontalHeader()
    metrics = header.fontMetrics()
    for col, name in enumerate(view.items.columns):
        assert header.sectionSize(col) >= metrics.horizontalAdvance(name), name


def test_a_runs_several_scenes_are_stepped_through_in_place(window, qtbot):
    scene = demo_results.scene_regions()
    scenes = [dataclasses.replace(scene, name=f"regions-{k}", title=f"scene {k}") for k in range(3)]
    views = [window.show_result("run-with-scenes", s, "Region scoring") for s in scenes]
    tab = window.run_tabs["run-with-scenes"]
    assert [v.step_label.text() for v in views] == ["1 / 3", "2 / 3", "3 / 3"]
    assert not views[0].step_prev.isEnabled() and not views[2].step_next.isEnabled()
    tab.setCurrentWidget(views[0])
    qtbot.mouseClick(views[0].step_next, Qt.MouseButton.LeftButton)
    assert tab.currentWidget() is views[1]
    qtbot.mouseClick(views[1].step_next, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(views[2].step_prev, Qt.MouseButton.LeftButton)
    assert tab.currentWidget() is views[1]
    single = window.show_result("run-with-one-scene", scene, "Browse")
    assert single.step_bar is None


def test_clicking_a_row_of_an_item_table_shows_its_thumbnail_or_file(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    thumbs = [(rng.random((8, 8)) * 255).astype(np.uint8) for _ in range(3)] + [np.zeros(0, np.uint8)] * 2
    image = QImage(16, 16, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.red)
    image.save(str(tmp_path / "item.png"))
    table = R.MetricsTable(name="changed-samples", columns=["position", "score"],
                           rows=[[i, float(10 - i)] for i in range(5)], thumbnails=thumbs,
                           item_paths=["", "", "", str(tmp_path / "item.png"), ""])
    table.save(tmp_path)  # what a run folder holds, reopened as the GUI does
    view = _show(qtbot, create_view(R.Result.load(tmp_path / "changed-samples.json")))
    assert view.browser is not None and view.table is view.browser.table
    view.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # the last row on screen is the model's first
    index = view.table.model().index(4, 0)
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=view.table.visualRect(index).center())
    assert view.browser.shown_row == 0 and view.browser.caption.text() == "position: 0, score: 10.0"
    shown = view.browser.picture.pixmap().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    assert shown.pixelColor(5, 5).red() == thumbs[0][0, 0]
    view.browser.show_row(3)
    assert view.browser.picture.pixmap().toImage().pixelColor(3, 3).red() == 255
    view.browser.show_row(4)
    assert view.browser.picture.text() == "no picture for this item"


def test_a_table_without_pictures_stays_a_plain_table(qtbot, digits):
    view = _show(qtbot, create_view(digits[3]))
    assert view.browser is None and view.table.isVisible()
