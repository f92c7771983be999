"""clim.tune: a two-step CLIM tuning run on a random tiny CLIP, stop and resume, the saved ensemble loads."""

from __future__ import annotations

import numpy as np

from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore

SMALL = {"model": "wb-tiny-clip", "weights": "random", "batch_size": 14, "grids": [2, 3], "mosaic_size": 64,
         "eval_scenes": 3, "warmup_steps": 1, "lr": 1e-3}


def _run(runner, params):
    return runner.run(RunRequest(task="clim.tune", params={**SMALL, **params}, backend="torch", device="cpu",
                                 execution="inproc", seed=0))


def test_tune_stops_resumes_and_saves_a_loadable_ensemble(clim_runner):
    job, record = _run(clim_runner, {"steps": 2, "stop_after": 1})
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    assert "continue with resume=" in (job.run_dir / "log.txt").read_text()
    job2, record2 = _run(clim_runner, {"steps": 2, "resume": str(job.run_dir)})
    assert record2.state == RunState.COMPLETED, record2.error + record2.traceback
    results = {r.name: r for r in RunStore.results(job2.run_dir)}
    assert results["loss"].series["loss"].shape == (2, 2)  # steps 1 and 2 (the first from the checkpoint)
    table = results["before-after"]
    assert [row[0] for row in table.rows] == ["region_top1", "region_top5", "image_zero_shot_top1"]
    folder = job2.run_dir / "artifacts" / "clim-tuned"
    from workbench.api import load_clip

    tuned = load_clip(f"local-dir:{folder}")
    assert tuned.dense_features(np.zeros((64, 64, 3), np.uint8)).shape == (1, 64, 8, 8)


def test_tune_refuses_a_mismatched_resume_and_bad_settings(clim_runner):
    job, record = _run(clim_runner, {"steps": 2, "stop_after": 1})
    assert record.state == RunState.COMPLETED, record.error
    _, other = _run(clim_runner, {"steps": 3, "resume": str(job.run_dir)})
    assert other.state == RunState.FAILED
    _, bad = _run(clim_runner, {"steps": 1, "unlocked_blocks": 5})
    assert bad.state == RunState.FAILED and "has 3 vision blocks" in bad.error


def test_older_revisions_keep_their_training_data_and_mosaic_scale():
    from wb_clim.params import TuneParams
    from workbench.core.params import upgrade_params

    old, _ = upgrade_params(TuneParams, {"steps": 5, "grids": [2, 3]}, revision=1)
    assert TuneParams(**old).model_dump(include={"min_objects", "max_objects", "mosaic_size"}) == {
        "min_objects": 1, "max_objects": 4, "mosaic_size": 192}
    kept, _ = upgrade_params(TuneParams, {"mosaic_size": 512}, revision=1)
    assert kept["mosaic_size"] == 512
    assert TuneParams(**old).cell_scale == "reference"
    two, _ = upgrade_params(TuneParams, {"steps": 5}, revision=2)
    assert TuneParams(**two).model_dump(include={"min_objects", "max_objects", "mosaic_size", "cell_scale"}) == {
        "min_objects": 1, "max_objects": 1, "mosaic_size": 0, "cell_scale": "own"}
    assert TuneParams().cell_scale == "reference"  # the reference's mosaic scale is the default again
