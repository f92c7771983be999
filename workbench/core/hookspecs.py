"""The plugin contract: a few registry-style hooks.

Each hook receives a registry (a :class:`workbench.core.registry.PluginRegistry`) and registers what the plugin
contributes; everything registered is stamped with the plugin, and disappears with it when the plugin fails or
is disabled. Hooks must stay cheap: they run when plugins are listed, so they may import pydantic parameter
models but never torch, open_clip or diffusers. Heavy code is named by a ``"module:function"`` string and
imported only when it runs. The host calls each hook through pluggy (``pm.subset_hook_caller``), one plugin at a
time, so a failing plugin never stops the others; ``WORKBENCH_TRACE_PLUGINS=1`` prints every hook call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from workbench.core.registry import PluginRegistry

PROJECT = "workbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def workbench_register_tasks(registry: PluginRegistry) -> None:
    """Register the plugin's tasks with ``registry.add_task(TaskSpec(...))`` and families with ``add_family``.

    A task spec is the manifest of one runnable method: id, title, family, parameter model, backends, execution
    mode, the plugins it requires and the lazily imported entry point.

    :param registry: the plugin's view of the registry; each ``add_*`` stamps the contribution with the plugin.
    """


@hookspec
def workbench_register_sample_data(registry: PluginRegistry) -> None:
    """Register sample worlds with ``registry.add_sample(SampleSpec(...))``.

    Samples are generated or read offline; their loader is a ``"module:function"`` string, called by
    ``workbench.api.load_sample(id, **options)``.

    :param registry: the plugin's view of the registry.
    """


@hookspec
def workbench_register_model_cards(registry: PluginRegistry) -> None:
    """Register zoo models with ``registry.add_zoo_card(id, package)`` (a card shipped as package data) or
    ``registry.add_model_card(ModelCard(...))``.

    A card names its weights, the plugin whose loader reads them, the recipe that regenerates them and its
    metrics; ``workbench.api.load_zoo_model(id)`` calls the loader. The user's zoo is searched first.

    :param registry: the plugin's view of the registry.
    """


@hookspec
def workbench_register_result_kinds(registry: PluginRegistry) -> None:
    """Register result kinds with ``registry.add_result_kind(ResultKindSpec(...))``.

    One registration gives a kind its result class, its figure builder (the report and the GUI's figure view),
    optionally a richer Qt view, a headless exporter and its display options. The host registers the base kinds
    through this same hook.

    :param registry: the plugin's view of the registry.
    """


@hookspec
def workbench_register_recipes(registry: PluginRegistry) -> None:
    """Register shipped recipes with ``registry.add_recipes(package, folder)``: every ``*.yaml`` in the package's
    data folder, runnable by name (``workbench batch <name>``) from any working directory.

    :param registry: the plugin's view of the registry.
    """
