"""The parameter form's editors: the mouse wheel scrolls the form instead of changing a value it passes over."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from workbench.core.plugins import get_host
from workbench.gui.device_probe import MachineDevices
from workbench.gui.param_form import ParamForm


def _wheel(widget, down: bool = True) -> QWheelEvent:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, -120 if down else 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(widget, event)
    return event


def _form(qtbot) -> ParamForm:
    form = ParamForm(MachineDevices())
    qtbot.addWidget(form)
    form.set_task(get_host().registry.tasks["fake.every-field"])
    form.resize(420, 330)
    form.show()
    qtbot.waitExposed(form)
    return form


def test_wheel_over_an_unfocused_combo_scrolls_the_form(qtbot, fake_plugins):
    form = _form(qtbot)
    bar = form.findChild(QScrollArea).verticalScrollBar()
    assert bar.maximum() > 0, "the form must be taller than its dock for this test"
    combo = form.editors["mode"].combo
    before = combo.currentIndex()
    assert not combo.hasFocus()
    _wheel(combo)
    assert combo.currentIndex() == before
    assert bar.value() > 0  # the wheel went on to the scroll area
    assert combo.focusPolicy() == Qt.FocusPolicy.StrongFocus  # a click or Tab gives it the wheel
    for widget in (form.backend, form.device, form.seed):
        value = widget.value() if hasattr(widget, "value") else widget.currentIndex()
        _wheel(widget, down=False)
        assert (widget.value() if hasattr(widget, "value") else widget.currentIndex()) == value


def test_wheel_over_a_focused_combo_changes_it(qtbot, fake_plugins):
    form = _form(qtbot)
    form.activateWindow()
    combo = form.editors["mode"].combo
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus, timeout=2000)
    before = combo.currentIndex()
    _wheel(combo)
    assert combo.currentIndex() != before
