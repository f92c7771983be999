"""The train-vbreg task through the runner: checkpoints, resume to the same weights, card and ONNX."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState

CARD_KEYS = {"schema_version", "id", "plugin", "title", "weights", "architecture", "recipe", "data", "metrics",
             "loader", "exporter"}
TINY = {"batch_size": 1, "n_matches": 32, "layers": 1, "dim": 8, "hidden": 8, "latent": 4,
        "checkpoint_every": 2, "eval_pairs": 0}


def _train(runner, **params):
    job, record = runner.run(RunRequest(task="registration.train-vbreg", params={**TINY, **params},
                                        backend="torch", device="cpu", seed=3, execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error
    return job.run_dir


def test_resume_reproduces_an_uninterrupted_run(runner):
    straight = _train(runner, steps=4, export_onnx=False)
    card = json.loads((straight / "artifacts" / "card.json").read_text())
    assert set(card) == CARD_KEYS
    first = _train(runner, steps=2, export_onnx=False)
    assert (first / "artifacts" / "checkpoint.pt").is_file()
    resumed = _train(runner, steps=4, export_onnx=False, resume=str(first))
    a = load_file(str(straight / "artifacts" / "model.safetensors"))
    b = load_file(str(resumed / "artifacts" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max().item() == pytest.approx(0.0, abs=1e-6), key


@pytest.mark.slow
def test_training_writes_card_and_onnx(runner):
    run_dir = _train(runner, steps=2, export_onnx=True)
    card = json.loads((run_dir / "artifacts" / "card.json").read_text())
    assert set(card) == CARD_KEYS
    assert card["metrics"]["onnx_max_abs_diff"] < 1e-4
    assert (run_dir / "artifacts" / "model.onnx").is_file()


def test_resume_from_a_missing_checkpoint_names_it(runner, tmp_path):
    job, record = runner.run(RunRequest(task="registration.train-vbreg",
                                        params={**TINY, "steps": 2, "resume": str(tmp_path / "nope")},
                                        backend="torch", device="cpu", execution="inproc"))
    assert record.state == RunState.FAILED and "nope" in record.error


@pytest.mark.slow
def test_zoo_model_exports_through_its_card(tmp_path):
    from wb_registration.export import export_zoo
    from workbench.api import zoo_weights

    report = export_zoo(zoo_weights("vbreg"), tmp_path / "vbreg.onnx")
    assert all(report.max_abs_diff[n] <= report.tolerance[n] for n in report.tolerance) and report.path.is_file()
