"""The zoo's CLIM-tuned tiny CLIP: loads by id, classifies held-out regions better than its base, card numbers."""

from __future__ import annotations

import numpy as np

from wb_clim.scoring import class_embeddings
from wb_clim.task_evaluate import accuracy, ranks, region_cosines
from wb_clim.vocabulary import attribute_vocabulary, prompts, truth_index
from workbench.api import load_clip, load_sample, zoo_card
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore


def _region_top1(clip, world) -> float:
    classes = attribute_vocabulary(world.vocabulary)
    truth = np.array([truth_index(o.label, classes) for s in world for o in s.objects])
    text = class_embeddings(clip, prompts(classes, "a {}"))
    return accuracy(ranks(region_cosines(clip, [s.image for s in world], [s.boxes for s in world], text, None, 64),
                          truth), 1)


def test_tuned_model_beats_its_base_on_held_out_scenes(zoo_clip):
    """Test scenes the card's numbers did not use (the card: scenes 0..299; the tuning: the train split)."""
    world = load_sample("shapes", split="test", n=40, seed=0, image_size=64, min_objects=2, max_objects=4,
                        start=20_000)
    tuned, base = _region_top1(load_clip("clim-tiny-clip"), world), _region_top1(zoo_clip, world)
    assert tuned > base + 0.05, (tuned, base)


def test_card_records_before_and_after():
    card = zoo_card("clim-tiny-clip")
    assert card.plugin == "clim" and card.recipe == "zoo-clim-tiny-clip"
    m = card.metrics
    assert m["region_top1_after"] > 2 * m["region_top1_before"] and m["region_top5_after"] > m["region_top5_before"]
    assert 0 < m["image_zero_shot_top1_after"] <= 1 and m["image_zero_shot_top1_before"] > 0.8


def test_region_scoring_takes_the_zoo_id(clim_runner):
    job, record = clim_runner.run(RunRequest(task="clim.region-score", params={
        "model": "clim-tiny-clip", "n_scenes": 2, "max_views": 0}, device="cpu", execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    notes = {r.name: r for r in RunStore.results(job.run_dir)}["predictions"].notes
    assert "clim-tiny-clip" in notes
