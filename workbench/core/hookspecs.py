"""The plugin contract: a few registry-style hooks.

Each hook receives a registry object and registers what the plugin contributes. Hooks must stay
cheap: they run when plugins are listed, so they may import pydantic parameter models but never
torch, open_clip or diffusers. Heavy code is named by a ``"module:function"`` string and imported
only when a task runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from workbench.core.registry import Registry

PROJECT = "workbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def workbench_register_tasks(registry: Registry) -> None:
    """Register the plugin's tasks with ``registry.add_task(TaskSpec(...))``.

    A task spec is the manifest of one runnable method: id, title, family, parameter model,
    backends, execution mode and the lazily imported entry point.
    """


@hookspec
def workbench_register_sample_data(registry: Registry) -> None:
    """Register built-in sample worlds with ``registry.add_sample(SampleSpec(...))``.

    Samples are generated or read offline; their loader is a ``"module:function"`` string.
    """


@hookspec
def workbench_register_model_cards(registry: Registry) -> None:
    """Register zoo models with ``registry.add_model_card(ModelCard(...))``.

    A card names the weights file in ``models/``, the recipe that regenerates it and its metrics.
    """


@hookspec
def workbench_register_renderers(registry: Registry) -> None:
    """Register headless exporters for result kinds with ``registry.add_renderer(kind, "mod:func")``.

    The host registers the base result kinds through this same hook; a plugin adds its own kinds.
    """
