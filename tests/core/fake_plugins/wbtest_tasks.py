"""A test plugin registering small real tasks through every hook (no mocks: the real runner runs them)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from workbench.api import (
    Curves,
    Family,
    MetricsTable,
    ModelCard,
    Progress,
    Result,
    ResultKindSpec,
    SampleSpec,
    TaskSpec,
    hookimpl,
)


@dataclass
class Gauge(Result):
    """The test plugin's own result kind: a value on a dial."""

    kind: ClassVar[str] = "wbtest.gauge"
    value: float = 0.0
    history: np.ndarray = field(default_factory=lambda: np.zeros(0))


def gauge_figure(result: Gauge, **_):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.barh([0], [result.value])
    ax.set_title(f"gauge {result.value:g}")
    return fig


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
    yield Gauge(name="gauge", title="The sum on a dial", value=float(sum(ys)), history=np.asarray(ys, float))


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
def workbench_register_result_kinds(registry) -> None:
    registry.add_result_kind(ResultKindSpec(kind="wbtest.gauge", cls="wbtest_tasks:Gauge",
                                            figure="wbtest_tasks:gauge_figure", exporter="wbtest_tasks:export_marker"))
    registry.add_result_kind(ResultKindSpec(kind="curves", cls="wbtest_tasks:Gauge"))
