"""The task browser: every plugin's tasks grouped by family, sample worlds, zoo models, and the plugins
that failed to load (greyed, with their error) - never hidden.

It draws a :class:`~workbench.core.plugin_listing.Listing` (plain records), so the first frame needs no loaded
plugin host; its signals carry ids, which the window resolves against the host.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from workbench.core.plugin_listing import Listing

ROLE = Qt.ItemDataRole.UserRole
GREY = QBrush(QColor("#999999"))


class TaskBrowser(QTreeWidget):
    """Emits ``task_selected(ref)``, ``plugin_selected(plugin_name)``, ``sample_activated(ref)`` (each ``ref``
    a ``plugin/id``) and ``info_selected(html)`` for samples and zoo models."""

    task_selected = Signal(str)
    plugin_selected = Signal(str)
    sample_activated = Signal(str)
    info_selected = Signal(str)

    def __init__(self, listing: Listing, parent=None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Task", "Plugin"])
        self.setColumnWidth(0, 240)
        self.itemSelectionChanged.connect(self._selected)
        self.itemActivated.connect(self._activated)
        self.task_items: dict[str, QTreeWidgetItem] = {}
        self.plugin_items: dict[str, QTreeWidgetItem] = {}
        self.listing = listing
        self.populate(listing)

    def _section(self, title: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self, [title])
        font = QFont(item.font(0))
        font.setBold(True)
        item.setFont(0, font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        item.setExpanded(True)
        return item

    def populate(self, listing: Listing) -> None:
        self.clear()
        self.listing = listing
        self.task_items, self.plugin_items = {}, {}
        for family in listing["families"]:
            section = self._section(family["title"])
            for task in family["tasks"]:
                item = QTreeWidgetItem(section, [task["title"], task["plugin"]])
                item.setData(0, ROLE, ("task", f"{task['plugin']}/{task['id']}"))
                tip = (f"{task['id']}\n{task['description']}\nbackends: {', '.join(task['backends'])}; "
                       f"runs {'in a worker subprocess' if task['execution'] == 'worker' else 'in process'}")
                if task["unavailable"]:
                    item.setForeground(0, GREY)
                    tip = f"unavailable: {task['unavailable']}\n{tip}"
                item.setToolTip(0, tip)
                self.task_items[task["id"]] = item
        for what, title in (("sample", "Sample data (double-click to open)"), ("card", "Model zoo")):
            entries = listing["samples" if what == "sample" else "models"]
            section = self._section(title) if entries else None
            for entry in entries:
                item = QTreeWidgetItem(section, [entry["title"], entry["plugin"]])
                item.setData(0, ROLE, (what, f"{entry['plugin']}/{entry['id']}"))
                item.setData(1, ROLE, f"<b>{html.escape(entry['title'])}</b> <span style='color:gray'>"
                                      f"({html.escape(entry['id'])}, {html.escape(entry['plugin'])})</span>")
                item.setToolTip(0, entry["tip"])
        section = self._section("Plugins")
        for info in sorted(listing["plugins"], key=lambda p: (p["status"] == "loaded", p["name"])):
            loaded = info["status"] == "loaded"
            item = QTreeWidgetItem(section, [info["name"] if loaded else f"{info['name']} ({info['status']})",
                                             info["version"]])
            item.setData(0, ROLE, ("plugin", info["name"]))
            if not loaded:
                item.setForeground(0, GREY)
                item.setForeground(1, GREY)
                item.setToolTip(0, info["error"] or "disabled by configuration")
            else:
                item.setToolTip(0, f"{info['module']}: {info['tasks']} task(s)")
            self.plugin_items[info["name"]] = item

    def select_task(self, task_id: str) -> None:
        self.setCurrentItem(self.task_items[task_id])

    def _selected(self) -> None:
        items = self.selectedItems()
        data = items[0].data(0, ROLE) if items else None
        if not data:
            return
        what, ident = data
        if what == "task":
            self.task_selected.emit(ident)
        elif what == "plugin":
            self.plugin_selected.emit(ident)
        else:
            self.info_selected.emit(f"{items[0].data(1, ROLE)}<br>{items[0].toolTip(0).replace(chr(10), '<br>')}")

    def _activated(self, item: QTreeWidgetItem) -> None:
        data = item.data(0, ROLE)
        if data and data[0] == "sample":
            self.sample_activated.emit(data[1])
