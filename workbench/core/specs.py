"""Manifest types: what a plugin declares about its tasks, samples, models, result kinds, families and recipes.

They are read without importing the plugin's heavy code: entry points are ``"module:attr"`` strings, imported by
:func:`resolve_entry` only when something runs. Every contribution is stamped with the plugin that registered it.
"""

from __future__ import annotations

import importlib
import re
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
CARD_SCHEMA = 1


class Family(str, Enum):
    """The built-in method families (ids of :class:`FamilySpec` the host registers). Plugins may add more."""

    OOD = "ood-detection"
    TTA = "test-time-adaptation"
    VL = "vision-language-misalignment"
    REGION = "region-alignment"
    DIFFUSION = "diffusion-tuning"
    REGISTRATION = "3d-registration"
    DATA = "data-and-models"


BACKENDS = ("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu", "cpu")
BackendName = Literal["torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu", "cpu"]


def resolve_entry(entry: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute (the only place plugin code is imported lazily)."""
    module_name, _, attr = entry.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _check_entry(value: str) -> str:
    if value and not _ENTRY.match(value):
        raise ValueError(f"{value!r} is not of the form 'package.module:function'")
    return value


class _Contribution(BaseModel):
    """Common to everything a plugin registers: an id and the plugin that registered it (set by the registry)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str = Field(pattern=ID_PATTERN)
    plugin: str = ""

    @property
    def qualified_id(self) -> str:
        """``plugin/id``: unique even when two plugins register the same id."""
        return f"{self.plugin}/{self.id}"


class FamilySpec(_Contribution):
    """A section of the task browser and of ``workbench plugins``; ``order`` sorts the sections."""

    title: str
    order: int = 100
    description: str = ""


class TaskSpec(_Contribution):
    """The manifest of one task. ``entry`` is imported only when the task runs.

    ``requires`` names the plugins the task needs (sample worlds, zoo models or public libraries they offer); when
    one is disabled or failed, the task is listed as unavailable with the reason and never runs.
    """

    title: str
    family: str
    entry: str
    params: type[BaseModel]
    description: str = ""
    backends: tuple[BackendName, ...] = ("torch-cpu",)
    execution: Literal["inproc", "worker"] = "inproc"
    outputs: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    @field_validator("family", mode="before")
    @classmethod
    def _family_value(cls, value: Any) -> Any:
        return value.value if isinstance(value, Enum) else value

    @field_validator("entry")
    @classmethod
    def _entry_form(cls, value: str) -> str:
        if not value:
            raise ValueError("a task needs an entry 'package.module:function'")
        return _check_entry(value)

    @field_validator("params")
    @classmethod
    def _params_is_model(cls, value: type) -> type:
        if not (isinstance(value, type) and issubclass(value, BaseModel)):
            raise ValueError("params must be a pydantic BaseModel subclass")
        return value

    @field_validator("backends")
    @classmethod
    def _backends_nonempty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a task must support at least one backend")
        return value

    @property
    def engines(self) -> tuple[str, ...]:
        """The engines (``torch``/``onnx``/``cpu``) among the task's backends, in declaration order."""
        return tuple(dict.fromkeys(b.split("-")[0] for b in self.backends))


class SampleSpec(_Contribution):
    """A built-in sample world: offline data with ground truth, reached with ``workbench.api.load_sample(id)``.

    ``loader`` is ``"module:function(**options)"``; ``kind`` names the host data type it returns
    (``labelled-images``, ``captioned-scenes``, ...), so a consumer can check what it gets.
    """

    title: str
    loader: str
    kind: str = ""
    description: str = ""

    @field_validator("loader")
    @classmethod
    def _loader_form(cls, value: str) -> str:
        return _check_entry(value)


class ModelCard(_Contribution):
    """A zoo model: files in its card's folder, the loader that reads them, the recipe that regenerates them.

    ``weights`` is relative to the card's folder. ``loader`` is ``"module:function(card, **options)"`` and is what
    ``workbench.api.load_zoo_model(id)`` calls; ``exporter`` is ``"module:function(weights_path, out_path)"`` used
    by ``workbench export-onnx``. ``folder`` is where the card was found (the user's zoo or a package's).
    """

    schema_version: int = CARD_SCHEMA
    title: str
    weights: str
    architecture: str
    recipe: str
    data: str
    metrics: dict[str, float] = Field(default_factory=dict)
    loader: str = ""
    exporter: str = Field("", description="'module:function(weights_path, out_path) -> ExportReport' used by "
                                          "`workbench export-onnx`; empty when the model has no ONNX export")
    _folder: Path | None = PrivateAttr(default=None)

    @field_validator("loader", "exporter")
    @classmethod
    def _entry_form(cls, value: str) -> str:
        return _check_entry(value)

    @property
    def folder(self) -> Path:
        if self._folder is None:
            raise ValueError(f"model card {self.id!r} was not read from a folder")
        return self._folder

    @property
    def weights_path(self) -> Path:
        return self.folder / self.weights

    def located(self, folder: Path) -> ModelCard:
        """A copy that knows the folder it was read from."""
        card = self.model_copy()
        card._folder = Path(folder)
        return card

    def to_json(self) -> str:
        return self.model_dump_json(indent=1) + "\n"


class ResultKindSpec(BaseModel):
    """A result kind, registered once and resolved by the runner, the worker, the report and the GUI.

    ``cls`` is the result dataclass; ``figure`` the figure builder ``(result, **options) -> Figure`` shared by
    the report and the GUI's figure view; ``view`` an optional richer Qt view class (``workbench.gui`` only
    imports it); ``exporter`` an optional headless exporter ``(result, out_dir, **options) -> list[Path]`` that
    replaces the default (figure PNG, CSV for tables); ``options`` a pydantic model of the display options
    (opacity, colormap, signed, ...) the figure builder takes. Display options never belong to task parameters.
    """

    model_config = ConfigDict(frozen=True)

    kind: str = Field(pattern=ID_PATTERN)
    cls: str
    title: str = ""
    figure: str = ""
    view: str = ""
    exporter: str = ""
    options: str = ""
    plugin: str = ""

    @field_validator("cls", "figure", "view", "exporter", "options")
    @classmethod
    def _entry_form(cls, value: str) -> str:
        return _check_entry(value)


class RecipeSpec(_Contribution):
    """A recipe shipped as package data, runnable by name: ``workbench batch <id>``."""

    path: Path
    title: str = ""
