"""Result views, imported on first use (they pull in matplotlib, which the first frame must not wait for)."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QWidget

from workbench.core.plugins import get_host
from workbench.core.results import Result
from workbench.core.specs import resolve_entry
from workbench.gui.views.base import ResultView
from workbench.gui.views.kinds import GenericFigureView


class JsonView(ResultView):
    """A kind with neither a view nor a figure builder: its saved fields as text."""

    def __init__(self, result: Result, parent: QWidget | None = None) -> None:
        from PySide6.QtWidgets import QPlainTextEdit

        super().__init__(result, parent)
        self.finish_controls()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.body.addWidget(self.text)
        self.refresh()

    def refresh(self) -> None:
        import dataclasses

        self.text.setPlainText("\n".join(f"{f.name}: {getattr(self.result, f.name)!r}"[:2000]
                                         for f in dataclasses.fields(self.result)))


def create_view(result: Result) -> ResultView:
    """The view the result's kind registered (through the registry, like the report): its own Qt view, else a
    figure view of its figure builder, else a listing of its fields. A view that fails to load or build falls
    back to the figure view, so one plugin's broken view never stops a run's tab from opening."""
    spec = get_host().registry.kind(result.kind)
    if spec is not None and spec.view:
        try:
            return resolve_entry(spec.view)(result)
        except Exception:
            logging.getLogger(__name__).exception("the view of result kind %r failed; showing its figure",
                                                  result.kind)
    if (spec is not None and spec.figure) or result.kind == "generic":
        return GenericFigureView(result)
    return JsonView(result)
