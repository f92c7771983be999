"""Manifest types: what a plugin declares about its tasks, samples and models, read without importing them."""

from __future__ import annotations

import importlib
import re
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class Family(str, Enum):
    """The method families the workbench groups tasks by (the GUI's task browser sections)."""

    OOD = "ood-detection"
    TTA = "test-time-adaptation"
    VL = "vision-language-misalignment"
    REGION = "region-alignment"
    DIFFUSION = "diffusion-tuning"
    REGISTRATION = "3d-registration"
    DATA = "data-and-models"

    @property
    def title(self) -> str:
        return {
            "ood-detection": "OOD detection",
            "test-time-adaptation": "Test-time adaptation",
            "vision-language-misalignment": "Vision-language misalignment",
            "region-alignment": "Region alignment",
            "diffusion-tuning": "Diffusion tuning",
            "3d-registration": "3D registration",
            "data-and-models": "Data and models",
        }[self.value]


BACKENDS = ("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu")
BackendName = Literal["torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"]


def resolve_entry(entry: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute (the only place plugin code is imported lazily)."""
    module_name, _, attr = entry.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _check_entry(value: str) -> str:
    if not _ENTRY.match(value):
        raise ValueError(f"{value!r} is not of the form 'package.module:function'")
    return value


class TaskSpec(BaseModel):
    """The manifest of one task. ``entry`` is imported only when the task runs."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    family: Family
    entry: str
    params: type[BaseModel]
    description: str = ""
    backends: tuple[BackendName, ...] = ("torch-cpu",)
    execution: Literal["inproc", "worker"] = "inproc"
    outputs: tuple[str, ...] = ()
    plugin: str = ""

    @field_validator("entry")
    @classmethod
    def _entry_form(cls, value: str) -> str:
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
        """The engines (``torch``/``onnx``) among the task's backends, in declaration order."""
        return tuple(dict.fromkeys(b.split("-")[0] for b in self.backends))


class SampleSpec(BaseModel):
    """A built-in sample world: offline data with ground truth. ``loader`` returns the data."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    loader: str
    description: str = ""
    plugin: str = ""

    @field_validator("loader")
    @classmethod
    def _loader_form(cls, value: str) -> str:
        return _check_entry(value)


class ModelCard(BaseModel):
    """A zoo model: weights in ``models/``, the recipe that regenerates them, measured metrics."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    weights: str
    architecture: str
    recipe: str
    data: str
    metrics: dict[str, float] = Field(default_factory=dict)
    exporter: str = Field("", description="'module:function(weights_path, out_path) -> ExportReport' used by "
                                          "`workbench export-onnx`; empty when the model has no ONNX export")
    plugin: str = ""
