"""Test-only plugin: tasks that fail, crash their worker, run long, and a form with every field kind.

Hook module and task entries live together; it is loaded with ``WORKBENCH_EXTRA_PLUGINS`` so that the
worker subprocess (which inherits the environment) finds it too.
"""

from __future__ import annotations

import enum
import os
import time
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from workbench.api import Curves, Family, Progress, TaskSpec, hookimpl


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LongParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(2000, ge=1, description="steps of 10 ms, each yielding progress")


class Colour(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class EveryFieldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(3, ge=1, le=10, description="an int with a range")
    rate: float = Field(0.5, gt=0, lt=1, description="an open float range")
    mode: Literal["fast", "exact"] = Field("fast", description="a literal choice")
    colour: Colour = Field(Colour.BLUE, description="an enum choice")
    verbose: bool = Field(False, description="a flag")
    data_dir: str = Field("", description="a folder")
    weights_path: str | None = Field(None, description="an optional file")
    label: str = Field("x", min_length=1, description="free text")
    sizes: list[int] = Field(default_factory=lambda: [1, 2], description="a list, typed as YAML")


class GroupedParams(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"groups": {"Optimiser": ["lr", "momentum"]}})

    name: str = Field("run", description="ungrouped, shown first")
    lr: float = Field(0.1, gt=0, description="grouped by the model")
    epochs: int = Field(2, ge=1, description="grouped by its field", json_schema_extra={"group": "Schedule"})
    momentum: float = Field(0.9, ge=0, le=1, description="grouped by the model")
    tag: str = Field("", description="ungrouped too")


class GuidedParams(BaseModel):
    """Choices first, settings that apply to one method only, an Advanced group, list fields."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "groups": {"Advanced": ["batch_size", "beta_k"]},
        "show_when": {"beta_k": {"method": ["beta"]}}})

    method: Literal["alpha", "beta"] = Field("alpha", description="which method")
    alpha_rate: float = Field(0.5, gt=0, description="alpha only",
                              json_schema_extra={"show_when": {"method": ["alpha"]}})
    beta_k: int = Field(5, ge=1, description="beta only")
    detectors: list[Literal["msp", "energy", "knn"]] = Field(["msp", "knn"], min_length=1, description="checkable")
    extra_dirs: list[str] = Field([], description="folders, one per set")
    batch_size: int = Field(64, ge=1, le=4096, description="rarely changed")


def guided(params: GuidedParams, ctx):
    yield Progress(1.0, f"{params.method} {params.detectors} {params.extra_dirs}")
    return []


def grouped(params: GroupedParams, ctx):
    yield Progress(1.0, f"lr={params.lr} epochs={params.epochs}")
    return []


def raises(params: NoParams, ctx):
    yield Progress(0.5, "about to fail")
    raise ValueError("the fake task failed on purpose")


def aborts(params: NoParams, ctx):
    yield Progress(0.1, "about to abort")
    os.abort()


def long_running(params: LongParams, ctx):
    for i in range(params.steps):
        time.sleep(0.01)
        yield Progress((i + 1) / params.steps, f"step {i + 1}")


def live_curve(params: LongParams, ctx):
    xs, ys = [], []
    for i in range(params.steps):
        xs.append(i)
        ys.append(float(np.exp(-i / 3)))
        yield Curves(name="live", title="live curve", series={"decay": np.array([xs, ys], float)})
        time.sleep(0.05)


def echo(params: EveryFieldParams, ctx):
    yield Progress(1.0, f"count={params.count} mode={params.mode} colour={params.colour.value}")
    return []


def _task(task_id: str, entry: str, params, execution: str = "inproc", **extra) -> TaskSpec:
    return TaskSpec(id=task_id, title=task_id.replace("fake.", "Fake ").replace("-", " "), family=Family.DATA,
                    entry=f"wb_gui_fakes:{entry}", params=params, execution=execution,
                    description=f"test task {task_id}", **extra)


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(_task("fake.raises", "raises", NoParams))
    registry.add_task(_task("fake.aborts", "aborts", NoParams, execution="worker"))
    registry.add_task(_task("fake.long", "long_running", LongParams))
    registry.add_task(_task("fake.long-worker", "long_running", LongParams, execution="worker"))
    registry.add_task(_task("fake.gpu-worker", "long_running", LongParams, execution="worker",
                            backends=("torch-cpu", "torch-cuda", "onnx-cpu", "onnx-cuda")))
    registry.add_task(_task("fake.live-curve", "live_curve", LongParams))
    registry.add_task(_task("fake.every-field", "echo", EveryFieldParams))
    registry.add_task(_task("fake.grouped", "grouped", GroupedParams))
    registry.add_task(_task("fake.guided", "guided", GuidedParams))
