"""The task browser: every plugin's tasks grouped by family, sample worlds, zoo models, and the plugins
that failed to load (greyed, with their error) - never hidden.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from workbench.core.plugins import PluginHost

ROLE = Qt.ItemDataRole.UserRole
GREY = QBrush(QColor("#999999"))


class TaskBrowser(QTreeWidget):
    """Emits ``task_selected(TaskSpec)``, ``plugin_selected(PluginInfo)``, ``sample_activated(SampleSpec)``
    and ``info_selected(html)`` for samples and zoo models."""

    task_selected = Signal(object)
    plugin_selected = Signal(object)
    sample_activated = Signal(object)
    info_selected = Signal(str)

    def __init__(self, host: PluginHost, parent=None) -> None:
        super().__init__(parent)
        self.host = host
        self.setHeaderLabels(["Task", "Plugin"])
        self.setColumnWidth(0, 240)
        self.itemSelectionChanged.connect(self._selected)
        self.itemActivated.connect(self._activated)
        self.task_items: dict[str, QTreeWidgetItem] = {}
        self.plugin_items: dict[str, QTreeWidgetItem] = {}
        self.populate()

    def _section(self, title: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self, [title])
        font = QFont(item.font(0))
        font.setBold(True)
        item.setFont(0, font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        item.setExpanded(True)
        return item

    def populate(self) -> None:
        self.clear()
        self.task_items, self.plugin_items = {}, {}
        registry = self.host.registry
        for family in sorted(registry.families.values(), key=lambda f: (f.order, f.title)):
            tasks = sorted((t for t in registry.tasks.values() if t.family == family.id), key=lambda t: t.title)
            if not tasks:
                continue
            section = self._section(family.title)
            for spec in tasks:
                item = QTreeWidgetItem(section, [spec.title, spec.plugin])
                item.setData(0, ROLE, ("task", spec))
                reason = registry.unavailable.get(spec.qualified_id)
                tip = (f"{spec.id}\n{spec.description}\nbackends: {', '.join(spec.backends)}; "
                       f"runs {'in a worker subprocess' if spec.execution == 'worker' else 'in process'}")
                if reason:
                    item.setForeground(0, GREY)
                    tip = f"unavailable: {reason}\n{tip}"
                item.setToolTip(0, tip)
                self.task_items[spec.id] = item
        if registry.samples:
            section = self._section("Sample data (double-click to open)")
            for sample in registry.samples.values():
                item = QTreeWidgetItem(section, [sample.title, sample.plugin])
                item.setData(0, ROLE, ("sample", sample))
                item.setToolTip(0, sample.description)
        if registry.models:
            section = self._section("Model zoo")
            for card in registry.models.values():
                item = QTreeWidgetItem(section, [card.title, card.plugin])
                item.setData(0, ROLE, ("card", card))
                metrics = ", ".join(f"{k}={v:g}" for k, v in card.metrics.items())
                item.setToolTip(0, f"{card.architecture}\nweights: {card.weights}\nrecipe: {card.recipe}\n{metrics}")
        section = self._section("Plugins")
        for info in sorted(self.host.plugins.values(), key=lambda p: (p.status == "loaded", p.name)):
            if info.name == "host":
                continue
            text = info.name if info.status == "loaded" else f"{info.name} ({info.status})"
            item = QTreeWidgetItem(section, [text, info.version])
            item.setData(0, ROLE, ("plugin", info))
            if info.status != "loaded":
                item.setForeground(0, GREY)
                item.setForeground(1, GREY)
                item.setToolTip(0, info.error or "disabled by configuration")
            else:
                item.setToolTip(0, f"{info.module}: {len(info.tasks)} task(s)")
            self.plugin_items[info.name] = item

    def select_task(self, task_id: str) -> None:
        self.setCurrentItem(self.task_items[task_id])

    def _selected(self) -> None:
        items = self.selectedItems()
        data = items[0].data(0, ROLE) if items else None
        if not data:
            return
        what, obj = data
        if what == "task":
            self.task_selected.emit(obj)
        elif what == "plugin":
            self.plugin_selected.emit(obj)
        else:
            self.info_selected.emit(f"<b>{obj.title}</b> <span style='color:gray'>({obj.id}, {obj.plugin})</span>"
                                    f"<br>{items[0].toolTip(0).replace(chr(10), '<br>')}")

    def _activated(self, item: QTreeWidgetItem) -> None:
        data = item.data(0, ROLE)
        if data and data[0] == "sample":
            self.sample_activated.emit(data[1])
