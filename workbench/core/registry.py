"""The registry: what the loaded plugins contribute, looked up by id, and served to tasks and the GUI.

Contributions are keyed by ``plugin/id``. A plain ``id`` finds a contribution when exactly one plugin registered
it; when two did, the plain id is ambiguous and the error names both plugins (``plugin/id`` still works). So an
id collision never takes a plugin down and never silently runs the wrong plugin's task. Result kinds are global
(they are written into result files): a second registration of a kind is rejected with both plugins named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import ValidationError

from workbench.core import assets
from workbench.core.errors import RegistryError
from workbench.core.specs import (
    FamilySpec,
    ModelCard,
    RecipeSpec,
    ResultKindSpec,
    SampleSpec,
    TaskSpec,
)

T = TypeVar("T", TaskSpec, SampleSpec, ModelCard, FamilySpec, RecipeSpec)


@dataclass(frozen=True)
class Rejection:
    """A contribution the registry refused, kept for ``workbench plugins`` and the GUI."""

    plugin: str
    what: str
    id: str
    reason: str


class Table(Generic[T]):
    """Contributions of one type by ``plugin/id``; ``table[id]`` works while the id is unambiguous."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, item: T) -> None:
        self._items[item.qualified_id] = item

    def matches(self, ref: str) -> list[T]:
        if "/" in ref:
            return [self._items[ref]] if ref in self._items else []
        return [item for item in self._items.values() if item.id == ref]

    def find(self, ref: str) -> T | None:
        """The contribution ``ref`` names, None when unknown; raises when a plain id is ambiguous."""
        found = self.matches(ref)
        if len(found) > 1:
            owners = " and ".join(repr(item.plugin) for item in found)
            raise RegistryError(f"{self.what} {ref!r} is registered by {owners}; say which one with "
                                f"{' or '.join(repr(item.qualified_id) for item in found)}")
        return found[0] if found else None

    def get(self, ref: str) -> T:
        item = self.find(ref)
        if item is None:
            known = ", ".join(sorted(self)) or "none"
            raise RegistryError(f"unknown {self.what} {ref!r}; known: {known}")
        return item

    def __getitem__(self, ref: str) -> T:
        return self.get(ref)

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, str) and bool(self.matches(ref))

    def __iter__(self) -> Iterator[str]:
        """Display ids: the plain id, or ``plugin/id`` where two plugins share it."""
        for item in self._items.values():
            yield item.id if len(self.matches(item.id)) == 1 else item.qualified_id

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[T]:
        return list(self._items.values())

    def of_plugin(self, plugin: str) -> list[T]:
        return [item for item in self._items.values() if item.plugin == plugin]

    def remove(self, item: T) -> None:
        self._items.pop(item.qualified_id, None)

    def drop_plugin(self, plugin: str) -> None:
        for key in [k for k, v in self._items.items() if v.plugin == plugin]:
            del self._items[key]


class Registry:
    """Everything the loaded plugins contributed, and which tasks cannot run (and why)."""

    def __init__(self) -> None:
        self.tasks: Table[TaskSpec] = Table("task")
        self.samples: Table[SampleSpec] = Table("sample")
        self.models: Table[ModelCard] = Table("model")
        self.families: Table[FamilySpec] = Table("family")
        self.recipes: Table[RecipeSpec] = Table("recipe")
        self.kinds: dict[str, ResultKindSpec] = {}
        self.rejected: list[Rejection] = []
        self.unavailable: dict[str, str] = {}

    def scoped(self, plugin: str) -> PluginRegistry:
        return PluginRegistry(self, plugin)

    def task(self, ref: str) -> TaskSpec:
        return self.tasks.get(ref)

    def runnable(self, ref: str) -> TaskSpec:
        """The task ``ref`` names, or a clear error when it is unknown, ambiguous or unavailable."""
        spec = self.tasks.get(ref)
        reason = self.unavailable.get(spec.qualified_id)
        if reason:
            raise RegistryError(f"task {spec.id!r} ({spec.plugin}) cannot run: {reason}")
        return spec

    def kind(self, kind: str) -> ResultKindSpec | None:
        return self.kinds.get(kind)

    def family_title(self, family: str) -> str:
        spec = self.families.find(family)
        return spec.title if spec else family

    def reject(self, plugin: str, what: str, ident: str, reason: str) -> None:
        self.rejected.append(Rejection(plugin, what, ident, reason))

    def drop_plugin(self, plugin: str) -> None:
        """Forget everything one plugin registered (used when one of its hooks fails halfway)."""
        for table in (self.tasks, self.samples, self.models, self.families, self.recipes):
            table.drop_plugin(plugin)
        for kind in [k for k, v in self.kinds.items() if v.plugin == plugin]:
            del self.kinds[kind]
        self.rejected = [r for r in self.rejected if r.plugin != plugin]


def read_card(path: Path | Traversable) -> ModelCard:
    """Read ``card.json``; older card layouts are upgraded (weights used to be relative to the zoo root)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")
        if doc.get("schema_version", 0) > ModelCard.model_fields["schema_version"].default:
            raise ValueError(f"card schema {doc['schema_version']} is newer than this workbench understands; "
                             "upgrade the workbench")
        if "schema_version" not in doc:
            doc["weights"] = doc.get("weights", "").split("/", 1)[-1]
            doc["recipe"] = Path(doc.get("recipe", "")).stem
        card = ModelCard.model_validate(doc)
    except (OSError, ValueError, ValidationError, RecursionError) as exc:
        raise RegistryError(f"{path}: not a readable model card ({exc})") from None
    return card.located(Path(str(path)).parent)


class PluginRegistry:
    """What a hook receives: the registry's ``add_*`` methods, each contribution stamped with this plugin."""

    def __init__(self, registry: Registry, plugin: str) -> None:
        self.registry, self.plugin = registry, plugin

    def _stamp(self, spec):
        if spec.plugin and spec.plugin != self.plugin:
            raise RegistryError(f"{spec.id!r} names plugin {spec.plugin!r} but is registered by {self.plugin!r}")
        return spec if spec.plugin else spec.model_copy(update={"plugin": self.plugin})

    def _add(self, table: Table, spec) -> bool:
        spec = self._stamp(spec)
        if spec.qualified_id in [item.qualified_id for item in table.matches(spec.id)]:
            self.registry.reject(self.plugin, table.what, spec.id, f"{table.what} {spec.id!r} is registered twice "
                                                                   f"by {self.plugin!r}; the second is ignored")
            return False
        table.add(spec)
        return True

    def add_task(self, spec: TaskSpec) -> None:
        """A runnable task. Its family must be registered (by the host or a plugin) when loading ends."""
        self._add(self.registry.tasks, spec)

    def add_sample(self, spec: SampleSpec) -> None:
        """A sample world, reached with ``workbench.api.load_sample(id, **options)``."""
        self._add(self.registry.samples, spec)

    def add_family(self, spec: FamilySpec) -> None:
        """A task family (a section of the task browser)."""
        self._add(self.registry.families, spec)

    def add_model_card(self, card: ModelCard) -> None:
        """A zoo model. A card read from a folder (``add_zoo_card``) knows where its files are."""
        self._add(self.registry.models, card)

    def add_zoo_card(self, zoo_id: str, package: str = assets.SHIPPED_ZOO) -> None:
        """Register ``<zoo>/<zoo_id>/card.json``: the user's zoo first, else ``package``'s shipped zoo.

        ``package`` is an importable package whose data holds ``<zoo_id>/card.json`` (the project's own zoo by
        default; a third-party plugin names its own). A model missing from both is not listed.
        """
        for folder in (assets.user_zoo() / zoo_id, assets.package_path(package) / zoo_id):
            path = folder / "card.json"
            if not path.is_file():
                continue
            try:
                card = read_card(path)
                if card.id != zoo_id:
                    raise RegistryError(f"{path}: card id {card.id!r} is not the folder's name {zoo_id!r}")
                self.add_model_card(card)
                return
            except RegistryError as exc:
                self.registry.reject(self.plugin, "model", zoo_id, str(exc))

    def add_result_kind(self, spec: ResultKindSpec) -> None:
        """A result kind with its class, figure builder and optional Qt view; kinds are global."""
        spec = spec if spec.plugin else spec.model_copy(update={"plugin": self.plugin})
        other = self.registry.kinds.get(spec.kind)
        if other is not None:
            self.registry.reject(self.plugin, "result kind", spec.kind,
                                 f"result kind {spec.kind!r} is already registered by {other.plugin!r}; "
                                 f"{self.plugin!r}'s registration is ignored")
            return
        self.registry.kinds[spec.kind] = spec

    def add_recipes(self, package: str, folder: str = "recipes") -> None:
        """Every ``*.yaml`` in ``package``'s data folder ``folder``, runnable as ``workbench batch <name>``."""
        root = assets.package_path(package) / folder
        for path in sorted(root.glob("*.yaml")):
            self._add(self.registry.recipes, RecipeSpec(id=path.stem, path=path, title=path.stem))
