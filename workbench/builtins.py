"""The host's own contributions, registered through the same hooks a third-party plugin uses (like napari's
``napari_builtins``): the method families, the base result kinds with their figure builders and Qt views, and
the shipped recipes. Entries are strings, so nothing here imports matplotlib or Qt.
"""

from __future__ import annotations

from workbench.core.assets import SHIPPED_RESOURCES
from workbench.core.hookspecs import hookimpl
from workbench.core.specs import Family, FamilySpec, ResultKindSpec

FAMILIES = (
    (Family.OOD, "OOD detection"),
    (Family.TTA, "Test-time adaptation"),
    (Family.VL, "Vision-language misalignment"),
    (Family.REGION, "Region alignment"),
    (Family.DIFFUSION, "Diffusion tuning"),
    (Family.REGISTRATION, "3D registration"),
    (Family.DATA, "Data and models"),
)

_FIG = "workbench.render.figures"
_VIEW = "workbench.gui.views.kinds"
BASE_KINDS = (
    ResultKindSpec(kind="metrics", cls="workbench.core.results:MetricsTable", title="Table",
                   view=f"{_VIEW}:MetricsView"),
    ResultKindSpec(kind="scores", cls="workbench.core.results:ScoreSet", title="Score sets",
                   figure=f"{_FIG}:scores_figure", view=f"{_VIEW}:ScoresView"),
    ResultKindSpec(kind="image-grid", cls="workbench.core.results:ImageGrid", title="Image grid",
                   figure=f"{_FIG}:image_grid_figure", view=f"{_VIEW}:ImageGridView"),
    ResultKindSpec(kind="heatmap", cls="workbench.core.results:Heatmap", title="Heatmap",
                   figure=f"{_FIG}:heatmap_figure", view=f"{_VIEW}:HeatmapView", options=f"{_FIG}:HeatmapOptions"),
    ResultKindSpec(kind="heatmap-grid", cls="workbench.core.results:HeatmapGrid", title="Heatmap grid",
                   figure=f"{_FIG}:heatmap_grid_figure", view=f"{_VIEW}:HeatmapGridView",
                   options=f"{_FIG}:HeatmapOptions"),
    ResultKindSpec(kind="token-scores", cls="workbench.core.results:TokenScores", title="Token scores",
                   figure=f"{_FIG}:token_scores_figure", view=f"{_VIEW}:TokenScoresView"),
    ResultKindSpec(kind="regions", cls="workbench.core.results:Regions", title="Regions",
                   figure=f"{_FIG}:regions_figure", view=f"{_VIEW}:RegionsView"),
    ResultKindSpec(kind="curves", cls="workbench.core.results:Curves", title="Curves",
                   figure=f"{_FIG}:curves_figure", view=f"{_VIEW}:CurvesView"),
    ResultKindSpec(kind="registration", cls="workbench.core.results:Registration", title="Registration",
                   figure=f"{_FIG}:registration_figure", view=f"{_VIEW}:RegistrationView"),
    ResultKindSpec(kind="embedding-scatter", cls="workbench.core.results:EmbeddingScatter",
                   title="Embedding scatter", figure=f"{_FIG}:embedding_scatter_figure"),
    ResultKindSpec(kind="image-pairs", cls="workbench.core.results:ImagePairs", title="Image pairs",
                   figure=f"{_FIG}:image_pairs_figure", view=f"{_VIEW}:ImagePairsView"),
    ResultKindSpec(kind="generic", cls="workbench.core.results:GenericResult", title="Unregistered kind",
                   figure=f"{_FIG}:generic_figure"),
)


@hookimpl
def workbench_register_tasks(registry) -> None:
    for order, (family, title) in enumerate(FAMILIES):
        registry.add_family(FamilySpec(id=family.value, title=title, order=10 * order))


@hookimpl
def workbench_register_result_kinds(registry) -> None:
    for spec in BASE_KINDS:
        registry.add_result_kind(spec)


@hookimpl
def workbench_register_recipes(registry) -> None:
    registry.add_recipes(SHIPPED_RESOURCES)
