"""Result views on real results: controls change the picture, PNGs match the headless exporter."""

from __future__ import annotations

import numpy as np
import pytest
import result_samples as demo_results
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from workbench.gui.views import JsonView, create_view
from workbench.gui.views.kinds import (
    HeatmapView,
    MetricsView,
    RegionsView,
    RegistrationView,
    ScoresView,
    TokenScoresView,
)
from workbench.render.export import figure_png


@pytest.fixture(scope="module")
def digits():
    return demo_results.digits_scores()


def _show(qtbot, view):
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_every_base_kind_has_its_view(qtbot, digits):
    results = demo_results.all_demo_results()
    kinds = {r.kind for r in results}
    assert kinds == {"metrics", "scores", "image-grid", "heatmap", "token-scores", "regions", "registration", "curves"}
    for result in results:
        view = _show(qtbot, create_view(result))
        assert not isinstance(view, JsonView)
        png = view.png_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_scores_threshold_slider_moves_readout_table_and_figure(qtbot, digits):
    scores = digits[0]
    view = _show(qtbot, ScoresView(scores))
    id_scores = scores.scores["max probability"][scores.id_set]
    assert "ID kept 9" in view.readout.text()
    view.slider.setValue(view.slider.maximum())
    t = view.threshold()
    assert t == pytest.approx(max(np.max(v) for v in scores.scores["max probability"].values()))
    assert f"ID kept {np.mean(id_scores >= t):.1%}" in view.readout.text()
    flags_col = view.items.columns.index("flagged OOD")
    assert sum(row[flags_col] for row in view.items.rows) >= len(view.items.rows) - 5
    view.draw_now()
    ncols = max(len(scores.ood_sets), len(scores.detectors))
    prob_hist, logit_hist = view.canvas.figure.axes[2 * ncols:2 * ncols + 2]
    assert any(np.allclose(line.get_xdata(), t) for line in prob_hist.lines)
    assert not logit_hist.lines
    assert view.png_bytes() == figure_png(scores, threshold={"max probability": t})
    col = view.items.columns.index("max logit")
    view.table.sortByColumn(col, Qt.SortOrder.DescendingOrder)
    shown = [view.items.data(view.items.index(r, col), Qt.ItemDataRole.UserRole) for r in range(5)]
    assert shown == sorted(shown, reverse=True)
    assert shown[0] == pytest.approx(max(np.max(v) for v in scores.scores["max logit"].values()))


def test_metrics_table_sorts_numerically_and_copies_csv(qtbot, digits):
    table = digits[3]
    view = _show(qtbot, MetricsView(table))
    view.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    aurocs = [row[2] for row in view.model.visible_rows()]
    assert aurocs == sorted(aurocs)
    view.copy_csv()
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0] == "detector,OOD set,AUROC"
    assert float(lines[1].split(",")[2]) == pytest.approx(min(aurocs))


def test_heatmap_controls_change_opacity_colormap_and_scale(qtbot, digits):
    heat = digits[2]
    view = _show(qtbot, HeatmapView(heat))

    def overlay():
        return view.canvas.figure.axes[1].images[-1]

    assert overlay().get_cmap().name == "RdBu_r" and overlay().get_clim()[0] < 0
    view.opacity.setValue(80)
    view.cmap.setCurrentText("viridis")
    view.scale.setCurrentText("magnitude")
    view.draw_now()
    assert overlay().get_alpha() == pytest.approx(0.8)
    assert overlay().get_cmap().name == "viridis"
    assert overlay().get_clim()[0] == pytest.approx(float(np.abs(heat.heat).min()))
    assert heat.signed is True
    from workbench.render.export import figure_png

    assert view.png_bytes() == figure_png(heat, **view.figure_options())


def test_token_threshold_line_follows_slider(qtbot):
    tokens = demo_results.caption_tokens()
    view = _show(qtbot, TokenScoresView(tokens))
    assert view.threshold() == tokens.threshold
    assert "1 of 8 words below: green" in view.readout.text()
    view.slider.setValue(view.slider.maximum())
    view.draw_now()
    bar_ax = view.canvas.figure.axes[1]
    assert bar_ax.lines[0].get_ydata()[0] == pytest.approx(view.threshold())
    assert "8 of 8 words below" in view.readout.text()


def test_regions_minimum_score_hides_boxes(qtbot):
    regions = demo_results.scene_regions()
    assert sorted(regions.labels) == ["ellipse", "ellipse", "rectangle", "triangle"]
    view = _show(qtbot, RegionsView(regions))
    assert len(view.canvas.figure.axes[0].patches) == 4
    view.slider.setValue(view.slider.maximum())
    view.draw_now()
    assert len(view.canvas.figure.axes[0].patches) == 1
    assert view.model.rowCount() == 4


def test_registration_rotates_with_the_mouse_and_panels_follow(qtbot):
    reg = demo_results.surface_registration()
    assert reg.inliers.sum() > 0 and np.array_equal(reg.inliers, reg.truth & reg.inliers)
    view = _show(qtbot, RegistrationView(reg))
    canvas = view.canvas
    canvas.draw()
    left, right = canvas.figure.axes[:2]
    azim0 = left.azim
    bbox = left.get_window_extent()
    ratio = canvas.device_pixel_ratio
    x = int((bbox.x0 + bbox.width / 2) / ratio)
    y = int(canvas.height() - (bbox.y0 + bbox.height / 2) / ratio)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    for dx in range(5, 65, 5):
        pos = QPointF(x + dx, y)
        move = QMouseEvent(QEvent.Type.MouseMove, pos, canvas.mapToGlobal(pos), Qt.MouseButton.NoButton,
                           Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(canvas, move)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x + 60, y))
    assert left.azim != pytest.approx(azim0)
    assert right.azim == pytest.approx(left.azim)
    assert view.figure_options()["azim"] == pytest.approx(left.azim)
