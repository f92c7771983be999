"""Boxes drawn with the mouse: a params field marked ``{"widget": "boxes"}`` (clim.region-score's ``boxes``) opens
a dialog over the image chosen in the form, real mouse drags add boxes, Del removes one, OK writes the box file
the task reads, and the task scores exactly the drawn boxes (in a worker, as the window runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage

from workbench.core.runstore import RunState, RunStore
from workbench.gui.boxes_dialog import BoxCanvas


def _picture(path, width=80, height=48):
    """Red left half, blue right half."""
    image = QImage(width, height, QImage.Format.Format_RGB888)
    for x in range(width):
        for y in range(height):
            image.setPixelColor(x, y, QColor("red") if x < width // 2 else QColor("blue"))
    image.save(str(path))
    return path


def _drag(qtbot, canvas: BoxCanvas, box: tuple[float, float, float, float]) -> None:
    """Press, move and release the left button across ``box`` (image pixels) on the canvas."""
    rect = canvas.to_widget(box)
    start = QPoint(round(rect.left()), round(rect.top()))
    end = QPoint(round(rect.right()), round(rect.bottom()))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2))
    qtbot.mouseMove(canvas, end)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)


def _open_dialog(window, qtbot, image):
    window.browser.select_task("clim.region-score")
    editor = window.form.editors["boxes"]
    assert editor.plan.kind == "boxes" and editor.draw is not None
    window.form.editors["image"].set_value(str(image))
    qtbot.mouseClick(editor.draw, Qt.MouseButton.LeftButton)
    dialog = editor.dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return editor, dialog


def test_draw_without_an_image_says_which_field_to_fill(window, qtbot):
    window.browser.select_task("clim.region-score")
    editor = window.form.editors["boxes"]
    qtbot.mouseClick(editor.draw, Qt.MouseButton.LeftButton)
    assert editor.dialog is None and editor.error.text() == "choose an image in 'image' first"


@pytest.mark.slow
def test_boxes_drawn_with_the_mouse_are_what_the_task_scores(window, qtbot, tmp_path):
    image = _picture(tmp_path / "halves.png")
    editor, dialog = _open_dialog(window, qtbot, image)
    canvas = dialog.canvas
    wanted = [(2.0, 2.0, 36.0, 46.0), (44.0, 2.0, 78.0, 46.0)]
    _drag(qtbot, canvas, (10.0, 10.0, 20.0, 20.0))  # a box removed again below
    for box in wanted:
        _drag(qtbot, canvas, box)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))  # a click is no box
    assert dialog.list.count() == 3
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    dialog.list.setCurrentRow(0)
    qtbot.keyClick(dialog.list, Qt.Key.Key_Delete)
    assert dialog.list.count() == 2
    for drawn, box in zip(dialog.boxes(), wanted):
        assert drawn == pytest.approx(box, abs=0.5)  # a widget pixel is 1/scale image pixels
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    path = editor.value()[1]
    assert path.endswith(".json") and str(tmp_path) in path  # under this test's WORKBENCH_HOME/inputs
    written = [entry["box"] for entry in json.loads(Path(path).read_text(encoding="utf-8"))]
    assert written == [pytest.approx(b, abs=0.5) for b in wanted]

    window.form.editors["classes"].set_value(["red", "blue"])
    window.form.editors["temperature"].set_value(75)
    assert window.form.run_button.isEnabled(), window.form.problem.text()
    before = set(window.jobs.entries)
    window.form.run_button.click()
    (key,) = set(window.jobs.entries) - before
    entry = window.jobs.entries[key]
    qtbot.waitUntil(lambda: entry.finished, timeout=180_000)
    assert entry.record is not None and entry.record.state == RunState.COMPLETED, entry.error
    assert entry.record.params["boxes"] == path
    results = {r.name: r for r in RunStore.results(entry.job.run_dir)}
    rows = results["predictions"].rows
    assert [r[2:6] for r in rows] == [pytest.approx(b, abs=0.5) for b in written]
    assert [r[:2] for r in rows] == [["halves.png", "box 0"], ["halves.png", "box 1"]]
    assert all(r[7] in ("red", "blue") for r in rows)


def test_draw_edits_a_box_list_but_never_overwrites_other_files(window, qtbot, tmp_path):
    image = _picture(tmp_path / "halves.png")
    listed = tmp_path / "mine.json"
    listed.write_text(json.dumps([{"box": [1, 2, 30, 40], "label": "red"}]))
    window.browser.select_task("clim.region-score")
    window.form.editors["boxes"].set_value(str(listed))
    editor, dialog = _open_dialog(window, qtbot, image)
    assert dialog.boxes() == [(1.0, 2.0, 30.0, 40.0)] and dialog.path == listed
    dialog.reject()
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    editor.set_value(str(coco))
    qtbot.mouseClick(editor.draw, Qt.MouseButton.LeftButton)
    assert editor.dialog.boxes() == [] and editor.dialog.path != coco and editor.dialog.path.parent.name == "inputs"
    editor.dialog.reject()
