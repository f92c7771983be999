"""The shapes OOD world (sample ``shapes-ood``): deterministic, labelled, grouped near/far, and the OOD training and
evaluation tasks run on it unchanged through ``dataset=sample``; the benchmark recipes validate."""

from __future__ import annotations

import numpy as np
import pytest

from wb_shapes.ood_world import CLASSES, ID_COLOURS, ID_SHAPES, load_shapes_ood
from workbench.api import find_recipe, load_sample
from workbench.core.plugins import get_host
from workbench.core.recipes import load_recipe
from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunState, RunStore


def test_world_is_deterministic_labelled_and_grouped():
    a = load_shapes_ood(seed=1, n_train=60, n_test=30, n_ood=20)
    b = load_shapes_ood(seed=1, n_train=60, n_test=30, n_ood=20)
    c = load_shapes_ood(seed=2, n_train=60, n_test=30, n_ood=20)
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.shape == (60, 3, 32, 32) and a.x_train.dtype == np.float32
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1
    assert a.classes == CLASSES and len(CLASSES) == len(ID_COLOURS) * len(ID_SHAPES) == 12
    assert set(np.unique(a.y_train)) <= set(range(12)) and len(np.unique(a.y_train)) >= 10
    assert a.groups == {"new-shapes": "near", "new-colours": "near", "textures": "far", "photo-patches": "far"}
    assert all(v.shape == (20, 3, 32, 32) for v in a.ood.values())


def test_a_red_circle_is_labelled_red_circle():
    world = load_shapes_ood(seed=0, n_train=40, n_test=10, n_ood=10)
    pictures = (world.x_train.transpose(0, 2, 3, 1) * 255).astype(np.uint8)
    for label, picture in zip(world.y_train, pictures):
        colour = ID_COLOURS[label // len(ID_SHAPES)]
        # the object's colour is the picture's most saturated pixel's dominant channel
        flat = picture.reshape(-1, 3).astype(int)
        brightest = flat[np.argmax(flat.max(1) - flat.min(1))]
        assert int(np.argmax(brightest)) == {"red": 0, "green": 1, "blue": 2}[colour]


def test_registered_as_a_labelled_images_sample():
    world = load_sample("shapes-ood", seed=0, size=32)
    assert len(world.x_train) == 2000 and world.num_classes == 12


@pytest.mark.slow
def test_ood_tasks_run_on_the_sample_unchanged():
    params = {"dataset": "sample", "sample": "shapes-ood", "width": 8, "epochs": 1, "max_steps": 3,
              "batch_size": 32}
    job, record = Runner().run(RunRequest(task="ood.train-ce", params=params, backend="torch", device="cpu",
                                          execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error
    weights = job.run_dir / "artifacts" / "model.safetensors"
    job, record = Runner().run(RunRequest(task="ood.evaluate", backend="torch", device="cpu", execution="inproc",
                                          params={"dataset": "sample", "sample": "shapes-ood",
                                                  "checkpoints": [str(weights)], "detectors": ["msp", "energy"]}))
    assert record.state == RunState.COMPLETED, record.error
    rows = next(r for r in RunStore.results(job.run_dir) if r.name == "ood-metrics").rows
    assert {(row[1], row[2]) for row in rows} >= {("new-shapes", "near"), ("photo-patches", "far")}


@pytest.mark.parametrize("name, steps", [("ood-shapes-benchmark", 12), ("ood-cifar10-benchmark", 12)])
def test_benchmark_recipes_validate(name, steps):
    recipe = load_recipe(find_recipe(name), get_host().registry)
    assert len(recipe.steps) == steps
    assert {s.seed for s in recipe.steps} == {0, 1, 2}
    assert {s.task for s in recipe.steps} == {"ood.train-ce", "ood.train-mixoe", "ood.train-palm",
                                              "ood.train-ascood"}
