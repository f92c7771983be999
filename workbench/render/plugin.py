"""The host's own renderers, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from workbench.core.hookspecs import hookimpl

BASE_KINDS = ("metrics", "scores", "image-grid", "heatmap", "token-scores", "regions", "curves", "registration")


@hookimpl
def workbench_register_renderers(registry) -> None:
    for kind in BASE_KINDS:
        registry.add_renderer(kind, "workbench.render.export:export_result")
