"""What the GUI's task browser draws, as plain JSON-able records: families with their tasks, sample worlds, zoo
models and every plugin's status (failed ones with their error).

The GUI's first frame reads it from the listing cache (``manifest_cache``), so the window is painted without
importing pydantic, numpy or any plugin; the real host loads after the first frame. A cache miss builds it from
the loaded host, which the window then keeps.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from workbench.core.manifest_cache import cached_listing, can_use_cache

VARIANT = "browser"


class Listing(TypedDict):
    """``families``: [{id, title, tasks: [{id, title, plugin, description, backends, execution, unavailable}]}]
    in display order; ``samples``, ``models``: [{id, title, plugin, tip}]; ``plugins``: [{name, version, status,
    error, module, tasks}] without the host itself."""

    families: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    models: list[dict[str, Any]]
    plugins: list[dict[str, Any]]


def listing_of(host) -> Listing:
    """The listing of a loaded :class:`~workbench.core.plugins.PluginHost`."""
    registry = host.registry
    families = []
    for family in sorted(registry.families.values(), key=lambda f: (f.order, f.title)):
        tasks = sorted((t for t in registry.tasks.values() if t.family == family.id), key=lambda t: t.title)
        if tasks:
            families.append({"id": family.id, "title": family.title, "tasks": [
                {"id": t.id, "title": t.title, "plugin": t.plugin, "description": t.description,
                 "backends": list(t.backends), "execution": t.execution,
                 "unavailable": registry.unavailable.get(t.qualified_id, "")} for t in tasks]})
    samples = [{"id": s.id, "title": s.title, "plugin": s.plugin, "tip": s.description}
               for s in registry.samples.values()]
    models = []
    for card in registry.models.values():
        metrics = ", ".join(f"{k}={v:g}" for k, v in card.metrics.items())
        models.append({"id": card.id, "title": card.title, "plugin": card.plugin,
                       "tip": f"{card.architecture}\nweights: {card.weights}\nrecipe: {card.recipe}\n{metrics}"})
    plugins = [{"name": p.name, "version": p.version, "status": p.status, "error": p.error, "module": p.module,
                "tasks": len(p.tasks)} for p in host.plugins.values() if p.name != "host"]
    return {"families": families, "samples": samples, "models": models, "plugins": plugins}


def cached_browser_listing() -> Listing | None:
    """The listing from the cache when it is still valid (else built from the host, which stays loaded), or
    None when the cache must not be used (a host already loaded in this process, or traced hook calls)."""
    if not can_use_cache():
        return None

    def build() -> str:
        from workbench.core.plugins import get_host

        return json.dumps(listing_of(get_host()))

    return json.loads(cached_listing(build, VARIANT))
