"""Forms that guide: inapplicable fields hidden (and left at their defaults), Advanced collapsed, choice lists as
checkable items, path lists with pickers and drops, a field's description under it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from workbench.core.plugins import get_host
from workbench.gui.device_probe import MachineDevices
from workbench.gui.param_form import ChoiceList, ParamForm, PathList


def _form(qtbot, task="fake.guided") -> ParamForm:
    form = ParamForm(MachineDevices())
    qtbot.addWidget(form)
    form.set_task(get_host().registry.tasks[task])
    form.resize(460, 700)
    form.show()
    qtbot.waitExposed(form)
    return form


def test_fields_of_the_other_method_are_hidden_and_not_sent(qtbot, fake_plugins):
    form = _form(qtbot)
    advanced = form.groups["Advanced"]
    advanced.setChecked(True)
    assert form.editors["alpha_rate"].isVisible() and not form.editors["beta_k"].isVisible()
    assert "beta_k" not in form.request().params and float(form.request().params["alpha_rate"]) == 0.5
    form.editors["method"].combo.setCurrentText("beta")
    assert not form.editors["alpha_rate"].isVisible() and form.editors["beta_k"].isVisible()
    params = form.request().params
    assert params["beta_k"] == 5 and "alpha_rate" not in params


def test_the_advanced_group_starts_collapsed_and_keeps_its_values(qtbot, fake_plugins):
    form = _form(qtbot)
    advanced = form.groups["Advanced"]
    assert advanced.isCheckable() and not advanced.isChecked()
    assert not form.editors["batch_size"].isVisible() and not form.shown("batch_size")
    assert form.request().params["batch_size"] == 64
    advanced.setChecked(True)
    assert form.editors["batch_size"].isVisible()
    form.editors["batch_size"].set_value(128)
    advanced.setChecked(False)
    assert form.request().params["batch_size"] == 128  # collapsing hides, it does not reset
    other = _form(qtbot, "fake.grouped")
    assert not any(box.isCheckable() for box in other.groups.values())


def test_a_list_of_choices_is_a_checkable_list(qtbot, fake_plugins):
    form = _form(qtbot)
    choices = form.editors["detectors"].items
    assert isinstance(choices, ChoiceList) and choices.count() == 3
    checked = [choices.item(i).checkState() == Qt.CheckState.Checked for i in range(3)]
    assert checked == [True, False, True]
    choices.item(1).setCheckState(Qt.CheckState.Checked)
    assert form.request().params["detectors"] == ["msp", "energy", "knn"]
    for i in range(3):
        choices.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert not form.run_button.isEnabled() and "detectors" in form.problem.text()
    form.editors["detectors"].restore_default()
    assert form.request().params["detectors"] == ["msp", "knn"]


def test_a_list_of_folders_has_a_picker_and_takes_drops(qtbot, fake_plugins, tmp_path):
    form = _form(qtbot)
    paths = form.editors["extra_dirs"].items
    assert isinstance(paths, PathList) and paths.folders and paths.add.toolTip() == "add a folder"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert form.set_path(tmp_path / "a") and form.set_path(tmp_path / "b") and form.set_path(tmp_path / "a")
    assert form.request().params["extra_dirs"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    paths.list.item(0).setSelected(True)
    qtbot.mouseClick(paths.remove, Qt.MouseButton.LeftButton)
    assert form.request().params["extra_dirs"] == [str(Path(tmp_path / "b"))]


def test_descriptions_sit_under_their_fields(qtbot, fake_plugins):
    form = _form(qtbot)
    editor = form.editors["method"]
    assert editor.description.isVisible() and editor.description.text() == "which method"
    assert editor.description.geometry().top() >= editor.combo.geometry().bottom()


def test_hiding_fields_never_cuts_the_descriptions_of_the_others(qtbot, fake_plugins):
    form = _form(qtbot, "ood.posthoc")
    form.resize(340, 700)

    def clipped() -> list[str]:
        shown = [e.description for n, e in form.editors.items() if form.shown(n) and e.description.isVisible()]
        return [d.text()[:30] for d in shown if d.height() < d.heightForWidth(d.width())]

    qtbot.waitUntil(lambda: not clipped(), timeout=3000)
    form.editors["detectors"].set_value(["msp", "knn"])  # the ODIN settings disappear
    assert not form.shown("odin_temperature") and form.shown("knn_k")
    qtbot.wait(200)
    assert clipped() == []


def test_registration_shows_only_the_chosen_methods_settings(qtbot, fake_plugins):
    form = _form(qtbot, "registration.register")
    assert next(iter(form.editors)) == "method"  # the key choice first
    form.editors["method"].set_value("vbreg")
    assert form.shown("vbreg_kappa") and not form.shown("sc2_k1") and not form.shown("ransac_iterations")
    assert not form.shown("source_path")  # input=synthetic-matches: no files to pick
    form.editors["method"].set_value("sc2pcr")
    assert form.shown("sc2_k1") and not form.shown("vbreg_kappa")
    assert "vbreg_kappa" not in form.request().params
    assert list(form.groups)[-1] == "Advanced" and not form.groups["Advanced"].isChecked()
    sweep = _form(qtbot, "registration.sweep")
    assert isinstance(sweep.editors["methods"].items, ChoiceList)
    assert sweep.shown("sc2_k1") and sweep.shown("vbreg_kappa")  # every method is compared by default
    sweep.editors["methods"].set_value(["kabsch", "ransac"])
    assert sweep.shown("ransac_iterations") and not sweep.shown("sc2_k1")


def test_the_form_fits_the_parameters_dock_of_a_1280_pixel_window(window, qtbot):
    from PySide6.QtCore import QSize

    window.resize(QSize(1280, 800))
    form = window.form

    def fits() -> bool:
        return (not form.scroll.horizontalScrollBar().isVisible()
                and form.fields_box.width() <= form.scroll.viewport().width())

    def clipped() -> list[str]:
        shown = [e.description for n, e in form.editors.items() if form.shown(n) and e.description.isVisible()]
        return [t.text()[:30] for t in shown if t.height() < t.heightForWidth(t.width())]

    for task in ("registration.register", "ood.posthoc", "clip.misalignment", "fake.every-field"):
        window.browser.select_task(task)
        qtbot.waitUntil(fits, timeout=3000)  # no sideways scrolling once laid out
        qtbot.waitUntil(lambda: not clipped(), timeout=3000)  # and every description whole
