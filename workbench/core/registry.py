"""The registry object handed to every hook, and the lookups the CLI and GUI make on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from workbench.core.errors import RegistryError
from workbench.core.paths import models_dir
from workbench.core.specs import ModelCard, SampleSpec, TaskSpec


@dataclass
class Registry:
    """What the loaded plugins contribute. ``current_plugin`` is set by the manager during each hook call."""

    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    samples: dict[str, SampleSpec] = field(default_factory=dict)
    model_cards: dict[str, ModelCard] = field(default_factory=dict)
    renderers: dict[str, str] = field(default_factory=dict)
    current_plugin: str = ""

    def _stamp(self, spec):
        return spec.model_copy(update={"plugin": self.current_plugin}) if not spec.plugin else spec

    def add_task(self, spec: TaskSpec) -> None:
        if spec.id in self.tasks:
            raise RegistryError(f"task id {spec.id!r} is registered twice ({self.tasks[spec.id].plugin})")
        self.tasks[spec.id] = self._stamp(spec)

    def add_sample(self, spec: SampleSpec) -> None:
        if spec.id in self.samples:
            raise RegistryError(f"sample id {spec.id!r} is registered twice")
        self.samples[spec.id] = self._stamp(spec)

    def add_model_card(self, card: ModelCard) -> None:
        if card.id in self.model_cards:
            raise RegistryError(f"model id {card.id!r} is registered twice")
        self.model_cards[card.id] = self._stamp(card)

    def add_zoo_card(self, zoo_id: str) -> None:
        """Register ``models/<zoo_id>/card.json`` when the zoo holds that model (a missing one is not listed)."""
        path = models_dir() / zoo_id / "card.json"
        if path.is_file():
            self.add_model_card(ModelCard.model_validate(json.loads(path.read_text())))

    def add_renderer(self, kind: str, entry: str) -> None:
        """Map a result kind to a headless exporter ``"module:function(result, out_dir) -> list[Path]"``."""
        self.renderers[kind] = entry

    def task(self, task_id: str) -> TaskSpec:
        try:
            return self.tasks[task_id]
        except KeyError:
            known = ", ".join(sorted(self.tasks)) or "none"
            raise RegistryError(f"unknown task {task_id!r}; known tasks: {known}") from None

    def drop_plugin(self, plugin: str) -> None:
        """Forget everything one plugin registered (used when its hook fails halfway)."""
        for table in (self.tasks, self.samples, self.model_cards):
            for key in [k for k, v in table.items() if v.plugin == plugin]:
                del table[key]
