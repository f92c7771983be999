"""Result views, imported on first use (they pull in matplotlib, which the first frame must not wait for)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from workbench.core.results import Result
from workbench.gui.views.base import ResultView
from workbench.gui.views.kinds import (
    CurvesView,
    GenericFigureView,
    HeatmapView,
    ImageGridView,
    MetricsView,
    RegionsView,
    RegistrationView,
    ScoresView,
    TokenScoresView,
)
from workbench.render.figures import build_figure

VIEWS: dict[str, type[ResultView]] = {
    "metrics": MetricsView,
    "scores": ScoresView,
    "heatmap": HeatmapView,
    "token-scores": TokenScoresView,
    "regions": RegionsView,
    "image-grid": ImageGridView,
    "curves": CurvesView,
    "registration": RegistrationView,
}


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
    """The view for ``result``'s kind; plugin kinds with a figure builder get a plain figure view."""
    cls = VIEWS.get(result.kind)
    if cls is not None:
        return cls(result)
    if build_figure(result) is not None:
        return GenericFigureView(result)
    return JsonView(result)
