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
    for widget in (form.backend, form.device, form.seed, form.editors["count"].spin):
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


def test_each_field_shows_its_description_and_restores_its_default(qtbot, fake_plugins):
    form = _form(qtbot)
    count, mode, colour, verbose = (form.editors[n] for n in ("count", "mode", "colour", "verbose"))
    assert not count.description.isHidden()
    assert count.description.text() == "an int with a range (allowed: 1 ≤ value ≤ 10)"
    assert colour.description.text() == "an enum choice"
    for editor in form.editors.values():
        assert not editor.reset.isEnabled(), editor.plan.name  # an untouched form shows its defaults
    count.set_value(7)
    mode.set_value("exact")
    colour.set_value("red")
    verbose.set_value(True)
    form.editors["sizes"].set_value([9])
    changed = ("count", "mode", "colour", "verbose", "sizes")
    assert all(form.editors[n].reset.isEnabled() for n in changed)
    assert form.values()["mode"] == "exact"
    for name in changed:
        qtbot.mouseClick(form.editors[name].reset, Qt.MouseButton.LeftButton)
    assert not any(form.editors[n].reset.isEnabled() for n in changed)
    values = form.values()
    assert values["mode"] == "fast" and values["colour"] == "blue" and values["verbose"] is False
    assert values["sizes"] == [1, 2] and int(values["count"]) == 3
    assert form.run_button.isEnabled()


def test_int_fields_are_spin_boxes_with_steps_by_magnitude(qtbot, fake_plugins):
    from PySide6.QtWidgets import QAbstractSpinBox

    from workbench.gui.form_fields import FieldPlan
    from workbench.gui.param_form import FieldEditor, _spin_range

    def plan(**kw):
        return FieldPlan(**{"name": "n", "kind": "int", "label": "n", "required": False, "default": 5, **kw})

    assert _spin_range(plan(low=0, low_open=True, high=100, high_open=True)) == (1, 99)
    assert _spin_range(plan(low=1)) == (1, 2**31 - 1)
    assert _spin_range(plan(optional=True)) is None  # needs an empty value: text
    assert _spin_range(plan(default=None, required=True)) is None
    assert _spin_range(plan(default=2**40)) is None
    editor = FieldEditor(plan(default=300, low=1))
    qtbot.addWidget(editor)
    assert editor.spin.stepType() == QAbstractSpinBox.StepType.AdaptiveDecimalStepType
    editor.spin.stepBy(1)
    assert editor.value() == (True, 310)  # one power of ten below the value
    editor.spin.setValue(7)
    editor.spin.stepBy(1)
    assert editor.value() == (True, 8)
    assert editor.reset.isEnabled()
    editor.restore_default()
    assert editor.value() == (True, 300) and not editor.reset.isEnabled()


def test_grouped_fields_sit_in_boxes_after_the_ungrouped_ones(qtbot, fake_plugins):
    from PySide6.QtWidgets import QGroupBox

    form = ParamForm(MachineDevices())
    qtbot.addWidget(form)
    form.set_task(get_host().registry.tasks["fake.grouped"])
    assert list(form.groups) == ["Optimiser", "Schedule"]
    role = form.fields.ItemRole
    rows = [form.fields.itemAt(i, role.FieldRole) or form.fields.itemAt(i, role.SpanningRole)
            for i in range(form.fields.rowCount())]
    widgets = [r.widget() for r in rows]
    assert widgets[:2] == [form.editors["name"], form.editors["tag"]]
    optimiser, schedule = form.groups["Optimiser"], form.groups["Schedule"]
    assert widgets == [form.editors["name"], form.editors["tag"], optimiser, form.editors["lr"],
                       form.editors["momentum"], schedule, form.editors["epochs"]]  # each box heads its fields
    assert all(isinstance(w, QGroupBox) for w in (optimiser, schedule))
    assert form.run_button.isEnabled() and form.request().params["epochs"] == 2
    form.set_task(get_host().registry.tasks["fake.every-field"])
    assert form.groups == {} and not form.findChildren(QGroupBox, "group-Optimiser")
