"""clim.evaluate: rank bookkeeping, crops, and the task end to end (its zero-shot number is the card's)."""

from __future__ import annotations

import numpy as np
import pytest

from wb_clim.task_evaluate import accuracy, crops, ranks
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore


def test_ranks_count_classes_above_the_truth_and_ties_against_it():
    cos = np.array([[0.9, 0.1, 0.2], [0.1, 0.5, 0.5], [0.3, 0.2, 0.1]])
    r = ranks(cos, np.array([0, 2, 2]))
    assert r.tolist() == [0, 1, 2]
    assert accuracy(r, 1) == pytest.approx(1 / 3) and accuracy(r, 2) == pytest.approx(2 / 3)
    assert np.isnan(accuracy(np.array([]), 1))


def test_crops_cut_the_box_and_resize():
    image = np.zeros((20, 30, 3), np.uint8)
    image[5:10, 10:20] = 255
    out = crops([image], [np.array([[10, 5, 20, 10], [-3.0, -2.0, 0.5, 0.5]])], 16)
    assert len(out) == 2 and out[0].shape == (16, 16, 3) and out[0].min() == 255
    assert out[1].shape == (16, 16, 3)  # a sliver at the border still gives a one-pixel crop


def _run(runner, params):
    job, record = runner.run(RunRequest(task="clim.evaluate", params=params, backend="torch", device="cpu",
                                        execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    return {r.name: r for r in RunStore.results(job.run_dir)}


def test_evaluate_random_clip_gives_every_table(clim_runner, tmp_path):
    results = _run(clim_runner, {"model": "wb-tiny-clip", "weights": "random", "n_scenes": 4, "n_single": 3,
                                 "n_examples": 2, "batch_size": 3})
    summary = {row[0]: row[1:] for row in results["summary"].rows}
    for metric in ("region top-1", "region top-5", "region mean per-class top-1", "region colour accuracy",
                   "region shape accuracy", "crop baseline top-1", "image zero-shot top-1 (one-object scenes)",
                   "region top-1 (one-object scenes, true box)"):
        assert 0.0 <= summary[metric][0] <= 1.0, metric
    assert summary["region top-1"][1] == pytest.approx(1 / 70, abs=1e-4)
    assert summary["region top-1"][0] <= summary["region top-5"][0]
    n_boxes = sum(row[1] for row in results["per-class"].rows)
    assert n_boxes == int(results["summary"].notes.split(" boxes")[0].split()[-1])
    assert all(row[0] != row[1] for row in results["confusions"].rows)
    assert {"example-0", "example-1"} <= set(results) and "example-2" not in results
    from workbench.render.export import export_result

    for result in results.values():
        assert export_result(result, tmp_path / "png")


def test_image_zero_shot_matches_the_shapes_plugins_measure(clim_runner, zoo_clip):
    """Image-level zero-shot with 'a {}' over colour x shape is the tiny CLIP card's colour+shape accuracy."""
    from wb_shapes.metrics import zero_shot
    from wb_shapes.world import generate_scenes

    results = _run(clim_runner, {"model": "tiny-clip", "n_scenes": 2, "n_single": 40, "n_examples": 0})
    summary = {row[0]: row[1] for row in results["summary"].rows}
    scenes = generate_scenes(40, "test", 0, 64, 1, 1, start=1_000_000)
    expected = zero_shot(zoo_clip, scenes)["colour_shape_accuracy"]
    assert summary["image zero-shot top-1 (one-object scenes)"] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("source", ["local-dir", "vit-b-32"])
def test_evaluate_takes_any_clip(clim_runner, random_clip, tmp_path, source):
    if source == "local-dir":
        from workbench.api import save_clip_dir

        params = {"model": f"local-dir:{save_clip_dir(random_clip, tmp_path / 'clip')}"}
    else:
        params = {"model": "ViT-B-32", "weights": "random"}
    results = _run(clim_runner, {**params, "n_scenes": 2, "n_single": 1, "n_examples": 0})
    assert results["summary"].rows[0][0] == "region top-1"
    assert params["model"] in results["summary"].notes
