"""The clip.train and clip.evaluate tasks through the real runner; the plugin's listing stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunState, RunStore

TINY = {"steps": 4, "batch_size": 8, "warmup_steps": 1, "checkpoint_every": 2, "eval_every": 100,
        "final_eval_scenes": 10, "threads": 1}


def _train(**params):
    job, record = Runner().run(RunRequest(task="clip.train", params={**TINY, **params}, backend="torch",
                                          device="cpu", seed=0, execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error
    return job.run_dir


def _checkpoint(run_dir):
    return torch.load(run_dir / "artifacts" / "checkpoint.pt", weights_only=True)


def test_training_resumes_exactly_where_it_stopped():
    straight = _train()
    first = _train(stop_after=2)
    assert _checkpoint(first)["step"] == 2 and not (first / "artifacts" / "tiny-clip").exists()
    resumed = _train(resume_from=str(first))
    log = (resumed / "log.txt").read_text()
    assert "resumed from" in log and "parameter 'resume_from' was renamed to 'resume' (revision 2)" in log
    a, b = _checkpoint(straight), _checkpoint(resumed)
    assert a["step"] == b["step"] == 4
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    results = {r.name: r for r in RunStore.results(resumed)}
    assert {"training", "held-out"} <= set(results)
    assert (resumed / "artifacts" / "tiny-clip" / "open_clip_model.safetensors").is_file()
    card = json.loads((resumed / "artifacts" / "tiny-clip" / "card.json").read_text())
    assert card["id"] == "tiny-clip" and "foil_colour" in card["metrics"]


def test_counterfactual_batch_redraws_scenes_with_their_shape_foil():
    from wb_shapes.params import TrainClipParams
    from wb_shapes.train import _batch

    params = TrainClipParams(batch_size=16, counterfactual_fraction=0.5, single_object_fraction=0.25)
    scenes, counterfactuals = _batch(params, step=3)
    assert len(scenes) == len(counterfactuals) == 16
    assert all(cf is None for cf in counterfactuals[6:12] + counterfactuals[14:])
    drawn = [(s, cf) for s, cf in zip(scenes, counterfactuals) if cf is not None]
    assert drawn and all(cf.caption == s.foils["shape"].caption and len(cf.objects) == len(s.objects)
                         for s, cf in drawn)
    assert all(len(s.objects) == 1 for s in scenes[12:])
    run_dir = _train(counterfactual_fraction=0.5)
    assert (run_dir / "artifacts" / "tiny-clip" / "open_clip_model.safetensors").is_file()


def test_resume_from_a_missing_checkpoint_names_it(tmp_path):
    job, record = Runner().run(RunRequest(task="clip.train", params={**TINY, "resume_from": str(tmp_path)},
                                          backend="torch", device="cpu", execution="inproc"))
    assert record.state == RunState.FAILED and "checkpoint.pt" in record.error


def test_evaluate_reproduces_the_zoo_card():
    from workbench.api import zoo_card

    card = zoo_card("tiny-clip").model_dump()
    job, record = Runner().run(RunRequest(task="clip.evaluate", params={}, backend="torch", device="cpu",
                                          execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error
    results = {r.name: r for r in RunStore.results(job.run_dir)}
    measured = {row[0]: row[1] for row in results["held-out"].rows}
    for key, value in card["metrics"].items():
        assert measured[key] == pytest.approx(value, abs=2e-3), key
    # the zoo model learned colours, sizes and captions far above chance on held-out scenes; shape is
    # learned only weakly (see the card), so it is held to "above chance"
    assert measured["test_colour_accuracy"] > 0.9 and measured["novel_colour_accuracy"] > 0.9
    assert measured["foil_colour"] >= 0.9 and measured["foil_size"] > 0.8
    assert measured["test_shape_accuracy"] > 1 / 7 and measured["foil_shape"] > 0.6
    assert measured["image_to_text_r5"] > 0.9 and measured["text_to_image_r1"] > 0.5
    assert len(results["foil-examples"].images) == 8


def test_listing_the_plugin_imports_no_torch():
    code = ("import sys, wb_shapes.plugin, wb_shapes.params, wb_shapes.world; "
            "print('torch' in sys.modules, 'open_clip' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_tasks_and_sample_are_registered():
    from workbench.core.plugins import get_host

    registry = get_host().registry
    assert {"clip.train", "clip.evaluate"} <= set(registry.tasks)
    assert registry.tasks["clip.train"].execution == "worker" and "shapes" in registry.samples
