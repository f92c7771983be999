"""What the registry serves by id: sample worlds, zoo models and shipped recipes.

A plugin reaches data and models another plugin contributes only through these calls (re-exported by
``workbench.api``), never by importing the other plugin's modules; an id of a disabled or failed plugin is a clear
error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core.errors import RegistryError
from workbench.core.specs import ModelCard, SampleSpec, resolve_entry


def _registry():
    from workbench.core.plugins import get_host

    return get_host().registry


def _unknown(what: str, ref: str, known) -> RegistryError:
    from workbench.core.plugins import get_host

    owners = [i.name for i in get_host().plugins.values() if i.status != "loaded"]
    hint = f"; plugins not loaded: {', '.join(owners)}" if owners else ""
    return RegistryError(f"unknown {what} {ref!r}; known: {', '.join(sorted(known)) or 'none'}{hint}")


def sample_spec(sample_id: str) -> SampleSpec:
    registry = _registry()
    spec = registry.samples.find(sample_id)
    if spec is None:
        raise _unknown("sample", sample_id, registry.samples)
    return spec


def load_sample(sample_id: str, **options: Any) -> Any:
    """The sample world ``sample_id`` built with ``options`` (its loader's keyword arguments)."""
    return resolve_entry(sample_spec(sample_id).loader)(**options)


def zoo_card(model_id: str) -> ModelCard:
    """The card of zoo model ``model_id`` (the user's zoo wins over a shipped model with the same id)."""
    registry = _registry()
    card = registry.models.find(model_id)
    if card is None:
        raise _unknown("zoo model", model_id, registry.models)
    return card


def zoo_weights(model_id: str) -> Path:
    """The weights file of zoo model ``model_id``; a missing file names the recipe that regenerates it."""
    card = zoo_card(model_id)
    path = card.weights_path
    if not path.exists():
        raise RegistryError(f"zoo model {model_id!r}: {path} is missing; regenerate it with "
                            f"`workbench batch {card.recipe}`")
    return path


def load_zoo_model(model_id: str, **options: Any) -> Any:
    """Zoo model ``model_id`` loaded by its card's loader (the plugin that registered the card)."""
    card = zoo_card(model_id)
    if not card.loader:
        raise RegistryError(f"zoo model {model_id!r} ({card.plugin}) declares no loader")
    zoo_weights(model_id)
    return resolve_entry(card.loader)(card, **options)


def find_recipe(ref: str | Path) -> Path:
    """A recipe file: a path that exists, else a shipped recipe by name (``demo``, ``zoo-digits-cnn``)."""
    path = Path(ref)
    if path.is_file():
        return path
    registry = _registry()
    spec = registry.recipes.find(path.stem if path.suffix in (".yaml", ".yml") else str(ref))
    if spec is None:
        raise RegistryError(f"{ref}: no such recipe file, and no shipped recipe of that name; shipped: "
                            f"{', '.join(sorted(registry.recipes)) or 'none'}")
    return Path(spec.path)
