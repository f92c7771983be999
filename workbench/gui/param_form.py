"""The parameter dock: a form generated from the selected task's pydantic model, placement and Run.

Each field shows its validation message beside it; while anything is invalid the Run button is disabled
and the line under it says what is wrong, so nothing runs with bad input. Tasks that run in a worker or
can use a GPU default to a worker subprocess, keeping torch and crashes out of the window's process.
"""

from __future__ import annotations

import contextlib
import enum
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import UserError
from workbench.core.runner import RunRequest
from workbench.core.specs import TaskSpec
from workbench.gui.boxes_dialog import BoxesDialog, default_boxes_path, read_boxes
from workbench.gui.device_probe import MachineDevices
from workbench.gui.form_fields import FieldPlan, display_text, field_errors, parse_text, plan_form

ERROR_STYLE = "color: #c0392b;"
HELP_STYLE = "color: #707070;"


class _WheelNeedsFocus:
    """Mixin for value widgets in a scrolled form: the mouse wheel changes the value only once the field has
    focus (clicked or tabbed into); otherwise the wheel scrolls the form around it."""

    def _init_wheel(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.hasFocus():
            super().wheelEvent(event)
            return
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QAbstractScrollArea):
            parent = parent.parentWidget()
        if parent is None:
            event.ignore()
            return
        QApplication.sendEvent(parent.viewport(), event)  # explicit: Qt stops synthetic wheel events here
        event.accept()


class FormComboBox(_WheelNeedsFocus, QComboBox):
    """A drop-down that may shrink below its longest choice (a narrow dock never scrolls sideways)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._init_wheel()
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)


class FormSpinBox(_WheelNeedsFocus, QSpinBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._init_wheel()


_INT_LIMIT = 2**31 - 1


def _spin_range(plan: FieldPlan) -> tuple[int, int] | None:
    """The spin box range of an int field, or None when it needs a text editor (optional, no default, huge)."""
    if plan.kind != "int" or plan.optional or isinstance(plan.default, bool) or not isinstance(plan.default, int):
        return None
    low = -_INT_LIMIT if plan.low is None else math.floor(plan.low) + 1 if plan.low_open else math.ceil(plan.low)
    high = _INT_LIMIT if plan.high is None else math.ceil(plan.high) - 1 if plan.high_open else math.floor(plan.high)
    if not -_INT_LIMIT <= low <= plan.default <= high <= _INT_LIMIT:
        return None
    return low, high


class ChoiceList(QListWidget):
    """A list field of choices: one checkable item per choice, as tall as its items (up to ten)."""

    changed = Signal()

    def __init__(self, choices: tuple[Any, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for choice in choices:
            item = QListWidgetItem(str(choice))
            item.setData(Qt.ItemDataRole.UserRole, choice)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        rows = min(len(choices), 10)
        self.setFixedHeight(rows * self.sizeHintForRow(0) + 2 * self.frameWidth() + 2 if rows else 24)
        self.itemChanged.connect(self.changed)

    def value(self) -> list[Any]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())
                if self.item(i).checkState() == Qt.CheckState.Checked]

    def set_value(self, values: Any) -> None:
        wanted = [v.value if isinstance(v, enum.Enum) else v for v in (values or [])]
        self.blockSignals(True)
        for i in range(self.count()):
            checked = self.item(i).data(Qt.ItemDataRole.UserRole) in wanted
            self.item(i).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.blockSignals(False)
        self.changed.emit()


class PathList(QWidget):
    """A list field of files or folders: the chosen paths, with Add… (a picker) and Remove."""

    changed = Signal()

    def __init__(self, folders: bool, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folders, self.label = folders, label
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setMaximumHeight(90)
        layout.addWidget(self.list)
        buttons = QHBoxLayout()
        self.add = QToolButton()
        self.add.setText("Add…")
        self.add.setToolTip("add a folder" if folders else "add files")
        self.add.clicked.connect(self._pick)
        self.remove = QToolButton()
        self.remove.setText("Remove")
        self.remove.clicked.connect(self._remove_selected)
        buttons.addWidget(self.add)
        buttons.addWidget(self.remove)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def value(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_value(self, values: Any) -> None:
        self.list.clear()
        self.list.addItems([str(v) for v in (values or [])])
        self.changed.emit()

    def add_paths(self, paths: list[str]) -> None:
        self.set_value([*self.value(), *(p for p in paths if p not in self.value())])

    def _pick(self) -> None:
        if self.folders:
            chosen = QFileDialog.getExistingDirectory(self, self.label)
            self.add_paths([chosen] if chosen else [])
        else:
            chosen, _ = QFileDialog.getOpenFileNames(self, self.label)
            self.add_paths(chosen)

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.changed.emit()


def _two_lines(label: str, longest: int = 14) -> str:
    """A long label broken at its middle space ("correspondences\npath"), so the label column stays narrow
    (an explicit break: a word-wrapped label would make QFormLayout clip the wrapped descriptions beside it)."""
    if len(label) <= longest or " " not in label:
        return label
    spaces = [i for i, c in enumerate(label) if c == " "]
    cut = min(spaces, key=lambda i: abs(i - len(label) / 2))
    return f"{label[:cut]}\n{label[cut + 1:]}"


def _place(plan: FieldPlan, group_start: int) -> tuple[bool, bool, int]:
    """Form order: ungrouped fields (the key choices), then each group's fields together under its heading (groups
    in the order they first appear, "Advanced" last); the model's order kept within each."""
    return bool(plan.group), plan.group.lower().startswith("advanced"), group_start


class FieldEditor(QWidget):
    """One generated editor plus its validation label; ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, plan: FieldPlan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        layout.addLayout(row)
        self.check: QCheckBox | None = None
        self.combo: QComboBox | None = None
        self.line: QLineEdit | None = None
        self.spin: QSpinBox | None = None
        self.items: ChoiceList | PathList | None = None
        self.image_path: Callable[[], str] = lambda: ""  # a boxes field: the form's current image (set by the form)
        self.draw: QPushButton | None = None
        self.dialog: BoxesDialog | None = None
        if plan.kind in ("choices", "paths-file", "paths-dir"):
            self.items = (ChoiceList(plan.choices) if plan.kind == "choices"
                          else PathList(plan.kind == "paths-dir", plan.label))
            self.items.set_value(plan.default)
            self.items.changed.connect(self.changed)
            row.addWidget(self.items, 1)
        elif plan.kind == "bool":
            self.check = QCheckBox()
            self.check.setChecked(bool(plan.default))
            self.check.toggled.connect(self.changed)
            row.addWidget(self.check)
        elif plan.kind == "choice":
            self.combo = FormComboBox()
            for choice in plan.choices:
                self.combo.addItem(str(choice), choice)
            if plan.default in plan.choices:
                self.combo.setCurrentIndex(plan.choices.index(plan.default))
            self.combo.currentIndexChanged.connect(self.changed)
            row.addWidget(self.combo)
        elif _spin_range(plan) is not None:
            self.spin = FormSpinBox()
            self.spin.setRange(*_spin_range(plan))
            self.spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)  # 300 -> 310, 7 -> 8
            self.spin.setValue(plan.default)
            self.spin.valueChanged.connect(self.changed)
            row.addWidget(self.spin, 1)
        else:
            self.line = QLineEdit(display_text(plan, plan.default))
            self.line.setPlaceholderText(plan.range_text or ("optional" if plan.optional else ""))
            self.line.textChanged.connect(self.changed)
            row.addWidget(self.line)
            if plan.kind in ("path-file", "path-dir", "boxes"):
                pick = QToolButton()
                pick.setText("…")
                pick.setToolTip("choose a folder" if plan.kind == "path-dir" else "choose a file")
                pick.clicked.connect(self._pick)
                row.addWidget(pick)
            if plan.kind == "boxes":
                self.draw = QPushButton("Draw…")
                self.draw.setObjectName(f"draw-{plan.name}")
                self.draw.setToolTip(f"draw boxes with the mouse over the image chosen in '{plan.image_field}'")
                self.draw.clicked.connect(self.draw_boxes)
                row.addWidget(self.draw)
        self.reset = QToolButton()
        self.reset.setText("↺")
        self.reset.setObjectName(f"reset-{plan.name}")
        self.reset.setToolTip(f"restore the default ({display_text(plan, plan.default) or 'empty'})")
        self.reset.clicked.connect(self.restore_default)
        self.reset.setVisible(not plan.required)
        row.addWidget(self.reset)
        allowed = f"allowed: {plan.range_text}" if plan.range_text else ""
        self.description = QLabel(" ".join(filter(None, [plan.help, f"({allowed})" if allowed and plan.help
                                                         else allowed])))
        self.description.setWordWrap(True)
        self.description.setStyleSheet(HELP_STYLE)
        font = self.description.font()
        font.setPointSizeF(max(font.pointSizeF() - 1, 6))
        self.description.setFont(font)
        self.description.setVisible(bool(self.description.text()))
        layout.addWidget(self.description)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setObjectName(f"error-{plan.name}")
        self.error.hide()
        layout.addWidget(self.error)
        self.setToolTip(plan.help)
        self.changed.connect(self._update_reset)
        self._update_reset()
        self.shown = True  # the form hides the row when the field does not apply

    def is_default(self) -> bool:
        """True while the field shows its default (what an untouched form would run with)."""
        if self.items is not None:
            return self.items.value() == list(self.plan.default or [])
        if self.check is not None:
            return self.check.isChecked() == bool(self.plan.default)
        if self.combo is not None:
            return self.combo.currentData() == self.plan.default
        if self.spin is not None:
            return self.spin.value() == self.plan.default
        return self.line.text().strip() == display_text(self.plan, self.plan.default)

    def restore_default(self) -> None:
        self.set_value(self.plan.default)

    def _update_reset(self) -> None:
        self.reset.setEnabled(not self.is_default())

    def _pick(self) -> None:
        if self.plan.kind == "path-dir":
            chosen = QFileDialog.getExistingDirectory(self, self.plan.label)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, self.plan.label)
        if chosen:
            self.set_value(chosen)

    def draw_boxes(self) -> None:
        """Open the box drawing dialog over the form's image; its OK writes the boxes file and sets this field.
        The current file is edited when it is a box list, else the boxes go to a new file."""
        image = Path(self.image_path().strip()).expanduser()
        if not image.is_file():
            self.show_error(f"choose an image in '{self.plan.image_field}' first")
            return
        current = Path(self.line.text().strip()).expanduser() if self.line.text().strip() else None
        boxes, path = [], default_boxes_path(image)
        if current is not None and current.is_file():
            with contextlib.suppress(UserError):
                boxes, path = read_boxes(current), current
        try:
            self.dialog = BoxesDialog(image, boxes, path, self)
        except UserError as exc:
            self.show_error(str(exc))
            return
        self.dialog.accepted.connect(lambda: self.set_value(str(self.dialog.path)))
        self.dialog.open()

    def value(self) -> tuple[bool, Any]:
        if self.items is not None:
            return True, self.items.value()
        if self.check is not None:
            return True, self.check.isChecked()
        if self.combo is not None:
            return True, self.combo.currentData()
        if self.spin is not None:
            return True, self.spin.value()
        return parse_text(self.plan, self.line.text())

    def set_value(self, value: Any) -> None:
        if isinstance(value, enum.Enum):
            value = value.value
        if self.items is not None:
            self.items.set_value(value)
        elif self.check is not None:
            self.check.setChecked(bool(value))
        elif self.combo is not None:
            index = self.combo.findData(value)
            if index < 0:
                index = self.combo.findText(str(value))
            self.combo.setCurrentIndex(max(index, 0))
        elif self.spin is not None:
            with contextlib.suppress(TypeError, ValueError):
                self.spin.setValue(int(value))  # clamped to the field's range
        else:
            self.line.setText(display_text(self.plan, value))

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))


class ParamForm(QWidget):
    """Task parameters, backend/device/seed and the Run button. ``run_requested`` carries a RunRequest."""

    run_requested = Signal(object)

    def __init__(self, machine: MachineDevices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.machine = machine
        self.spec: TaskSpec | None = None
        self.editors: dict[str, FieldEditor] = {}
        self.groups: dict[str, QGroupBox] = {}
        outer = QVBoxLayout(self)
        self.title = QLabel("Choose a task in the task browser.")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        outer.addWidget(self.title)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        self.fields_box = QWidget()
        self.fields = QFormLayout(self.fields_box)
        scroll.setWidget(self.fields_box)
        outer.addWidget(scroll, 1)

        placement = QGroupBox("Where it runs")
        form = QFormLayout(placement)
        self.backend = FormComboBox()
        self.device = FormComboBox()
        self.seed = FormSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.isolate = QCheckBox("in a worker subprocess")
        self.isolate.setToolTip("crash-safe (a crash fails the job, never the window) and Cancel stops it at once")
        form.addRow("backend", self.backend)
        form.addRow("device", self.device)
        form.addRow("seed", self.seed)
        form.addRow("", self.isolate)
        outer.addWidget(placement)

        self.run_button = QPushButton("Run")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self._run)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(ERROR_STYLE)
        outer.addWidget(self.run_button)
        outer.addWidget(self.problem)
        machine.changed.connect(self._fill_placement)

    # --- building -------------------------------------------------------------------------------
    def set_task(self, spec: TaskSpec | None, info: str = "") -> None:
        """Build the form for ``spec``; ``None`` clears it (``info`` then replaces the title) and disables Run,
        so choosing a sample, a model or a plugin never leaves another task's form runnable."""
        self.spec = spec
        while self.fields.rowCount():
            self.fields.removeRow(0)
        self.editors, self.groups = {}, {}
        if spec is None:
            self.title.setText(info or "Choose a task in the task browser.")
            self.run_button.setEnabled(False)
            self.run_button.setToolTip("choose a task to run")
            self.problem.clear()
            return
        self.title.setText(f"<b>{spec.title}</b> <span style='color:gray'>({spec.id})</span><br>"
                           f"{spec.description}")
        plans = plan_form(spec.params)
        self.groups = {}
        first = {}
        for i, plan in enumerate(plans):
            first.setdefault(plan.group, i)
        for plan in sorted(plans, key=lambda p: _place(p, first[p.group])):
            if plan.group and plan.group not in self.groups:
                self.groups[plan.group] = self._group_box(plan.group)
            editor = FieldEditor(plan)
            editor.changed.connect(self.revalidate)
            self.editors[plan.name] = editor
            label = QLabel(_two_lines(plan.label) + (" *" if plan.required else ""))
            label.setToolTip(plan.help)
            self.fields.addRow(label, editor)
        for editor in self.editors.values():
            source = self.editors.get(editor.plan.image_field)
            if editor.plan.kind == "boxes" and source is not None:
                editor.image_path = lambda source=source: str(source.value()[1] or "")
        heavy = spec.execution == "worker" or any(b.endswith("-cuda") for b in spec.backends)
        self.isolate.setChecked(heavy)
        self._fill_placement()
        self.revalidate()

    def _group_box(self, title: str) -> QGroupBox:
        """The heading of a group of fields (the rows under it, in the one form layout, so their wrapped
        descriptions keep their height); "Advanced" starts collapsed (its title's check box shows it)."""
        box = QGroupBox(title)
        box.setObjectName(f"group-{title}")
        box.setFlat(True)
        if title.lower().startswith("advanced"):
            box.setCheckable(True)
            box.setChecked(False)
            box.setToolTip("tick to show these settings; left alone, they keep their defaults")
            box.toggled.connect(self._update_visibility)
        self.fields.addRow(box)
        return box

    def shown(self, name: str) -> bool:
        """Whether field ``name`` is on screen: its group is open and it applies to the current choices."""
        editor = self.editors[name]
        box = self.groups.get(editor.plan.group)
        expanded = box is None or not box.isCheckable() or box.isChecked()
        return expanded and editor.plan.applies(self._raw_values())

    def _raw_values(self) -> dict[str, Any]:
        return {name: value for name, editor in self.editors.items() for present, value in [editor.value()]
                if present}

    def _update_visibility(self) -> None:
        changed = False
        for name, editor in self.editors.items():
            shown = self.shown(name)
            if shown != editor.shown:
                editor.shown, changed = shown, True
                editor.setVisible(shown)  # not QFormLayout.setRowVisible: it clips wrapped rows below
                self.fields.labelForField(editor).setVisible(shown)
        if changed:  # once relaid out, the form keeps the rows' old wrapped heights (descriptions cut) unless told
            QTimer.singleShot(0, self.fields_box, self.fields.invalidate)  # dropped if the form is gone

    def _fill_placement(self) -> None:
        if self.spec is None:
            return
        current_backend, current_device = self.backend.currentText(), self.device.currentText()
        self.backend.clear()
        options = ["auto", *self.spec.engines, *self.spec.backends]
        for name in options:
            self.backend.addItem(name)
            usable = not name.endswith("-cuda") or self.machine.cuda_usable(name.split("-")[0])
            self.backend.model().item(self.backend.count() - 1).setEnabled(usable)
        self.device.clear()
        for name in self.machine.device_choices():
            self.device.addItem(name)
        self.device.setToolTip(self.machine.summary())
        for combo, previous in ((self.backend, current_backend), (self.device, current_device)):
            index = combo.findText(previous)
            if index >= 0:
                combo.setCurrentIndex(index)

    # --- values ---------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The parameters to run with: fields that do not apply to the current choices are left out (so their
        defaults hold)."""
        raw = self._raw_values()
        return {name: value for name, value in raw.items() if self.editors[name].plan.applies(raw)}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.editors:
                self.editors[name].set_value(value)

    def apply_request(self, request: dict[str, Any]) -> None:
        """Fill the form from a run request's fields (``params``, ``backend``, ``device``, ``seed``,
        ``execution``): a past run loaded back, or the task's last parameters."""
        self.set_values(request.get("params") or {})
        for combo, key in ((self.backend, "backend"), (self.device, "device")):
            index = combo.findText(str(request.get(key, "auto")))
            if index >= 0:
                combo.setCurrentIndex(index)
        with contextlib.suppress(TypeError, ValueError):
            self.seed.setValue(int(request.get("seed", self.seed.value())))
        if request.get("execution") in ("worker", "inproc"):
            self.isolate.setChecked(request["execution"] == "worker")
        self.revalidate()

    def revalidate(self) -> str:
        """Validate the form; show messages beside fields; return the summary ('' when valid)."""
        if self.spec is None:
            return "no task chosen"
        self._update_visibility()
        per_field, summary = field_errors(self.spec.params, self.values())
        for name, editor in self.editors.items():
            editor.show_error(per_field.get(name, ""))
        self.run_button.setEnabled(not summary)
        self.run_button.setToolTip(f"cannot run: {summary}" if summary else f"run {self.spec.id}")
        self.problem.setText(f"Cannot run: {summary}" if summary else "")
        return summary

    def set_path(self, path: Path) -> bool:
        """Put a dropped file or folder into the first matching path field; False when there is none."""
        kind = "dir" if path.is_dir() else "file"
        for editor in self.editors.values():
            if editor.plan.kind == f"path-{kind}":
                editor.set_value(str(path))
                return True
            if editor.plan.kind == f"paths-{kind}":
                editor.items.add_paths([str(path)])
                return True
        return False

    def request(self) -> RunRequest | None:
        if self.spec is None or self.revalidate():
            return None
        return RunRequest(task=self.spec.id, params=self.values(), backend=self.backend.currentText() or "auto",
                          device=self.device.currentText() or "auto", seed=self.seed.value(),
                          execution="worker" if self.isolate.isChecked() else "inproc")

    def show_info(self, html: str) -> None:
        """Describe something that is not a task (a sample world, a zoo model, a plugin): no form, no Run."""
        self.set_task(None, html)

    def _run(self) -> None:
        request = self.request()
        if request is not None:
            self.run_requested.emit(request)
