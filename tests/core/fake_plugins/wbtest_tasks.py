"""A test plugin registering small real tasks through every hook (no mocks: the real runner runs them)."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from workbench.api import (
    Curves,
    Family,
    MetricsTable,
    ModelCard,
    Progress,
    SampleSpec,
    TaskSpec,
    hookimpl,
)


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = Field(3, ge=1, le=1000)
    value: float = 1.0
    delay: float = Field(0.0, ge=0)


def echo(params: EchoParams, ctx):
    """Yields progress and a live curve, then a table with a value derived from the seed (re-run check)."""
    rng = np.random.default_rng(ctx.seed)
    ys = []
    for i in range(params.steps):
        time.sleep(params.delay)
        ys.append(params.value * (i + 1))
        yield Progress((i + 1) / params.steps, f"step {i + 1}")
        yield Curves(name="curve", series={"y": np.array([np.arange(1, i + 2), ys], dtype=float)})
    print("noise on stdout must not break the event stream")
    yield MetricsTable(name="table", columns=["key", "value"],
                       rows=[["sum", float(sum(ys))], ["draw", float(rng.random())], ["pid", os.getpid()]])


def fail(params: EchoParams, ctx):
    yield Progress(0.5, "about to fail")
    raise RuntimeError("this task fails on purpose")


def abort(params: EchoParams, ctx):
    yield Progress(0.1, "about to abort the process")
    sys.stdout.flush()
    os.abort()


def _spec(task_id: str, entry: str, execution: str = "inproc") -> TaskSpec:
    return TaskSpec(id=task_id, title=task_id, family=Family.DATA, entry=f"wbtest_tasks:{entry}", params=EchoParams,
                    backends=("torch-cpu",), execution=execution)


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(_spec("test.echo", "echo"))
    registry.add_task(_spec("test.echo-worker", "echo", "worker"))
    registry.add_task(_spec("test.fail", "fail"))
    registry.add_task(_spec("test.fail-worker", "fail", "worker"))
    registry.add_task(_spec("test.abort", "abort", "worker"))


def load_sample() -> dict:
    return {"x": np.arange(3)}


@hookimpl
def workbench_register_sample_data(registry) -> None:
    registry.add_sample(SampleSpec(id="test-sample", title="Test sample", loader="wbtest_tasks:load_sample"))


@hookimpl
def workbench_register_model_cards(registry) -> None:
    registry.add_model_card(ModelCard(id="test-model", title="Test model", weights="none.safetensors",
                                      architecture="none", recipe="none", data="none", metrics={"acc": 1.0}))


def export_marker(result, out_dir):
    path = out_dir / f"{result.name}.marker"
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("exported by the test plugin")
    return [path]


@hookimpl
def workbench_register_renderers(registry) -> None:
    registry.add_renderer("curves", "wbtest_tasks:export_marker")
