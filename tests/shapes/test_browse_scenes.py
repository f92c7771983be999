"""The shapes.scenes task shows the generator's ground truth unchanged."""

from __future__ import annotations

import numpy as np

from wb_shapes.world import make_scene
from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunState, RunStore


def test_scenes_task_shows_boxes_captions_and_foils():
    job, record = Runner().run(RunRequest(task="shapes.scenes", params={"split": "novel", "start": 3, "count": 5}))
    assert record.state == RunState.COMPLETED, record.traceback
    res = {r.name: r for r in RunStore.results(job.run_dir)}
    scene = make_scene(0, "novel", 3)
    np.testing.assert_array_equal(res["boxes"].image, scene.image)
    np.testing.assert_allclose(res["boxes"].boxes, scene.boxes)
    assert res["boxes"].labels == [o.phrase for o in scene.objects]
    assert len(res["scenes"].images) == 5
    rows = res["foils"].as_dicts()
    assert {r["scene"] for r in rows} == {3, 4, 5, 6, 7}
    for row in rows:
        caption, foil = row["caption"].split(), row["foil"].split()
        differing = [i for i, (a, b) in enumerate(zip(caption, foil, strict=True)) if a != b]
        assert differing == [row["word index"]]
