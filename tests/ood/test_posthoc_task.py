"""The ood.posthoc task end to end on the digits world: torch vs ONNX parity, metrics sanity, bad folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunState, RunStore


def _run(**kwargs):
    job, record = Runner().run(RunRequest(task="ood.posthoc", **kwargs))
    assert record.state == RunState.COMPLETED, record.traceback
    return {r.name: r for r in RunStore.results(job.run_dir)}, job


@pytest.fixture(scope="module")
def torch_and_onnx():
    params = {"detectors": ["msp", "energy", "mahalanobis", "knn"], "top_k_images": 4}
    return _run(backend="torch", params=params)[0], _run(backend="onnx", params=params)[0]


def test_onnx_scores_match_torch(torch_and_onnx):
    """Within the float32 error model of the export (relative bound ``rel`` per unit of output): scores that square
    features (Mahalanobis, KNN distances) double the relative error, so they are held to 4 * rel."""
    from workbench.api import FeaturesAndLogits, load_zoo_model
    from workbench.core.onnx_export import parity_tolerance

    rel = parity_tolerance(FeaturesAndLogits(load_zoo_model("digits-cnn")), 1.0)
    t, o = torch_and_onnx
    for det, sets in t["scores"].scores.items():
        for name, values in sets.items():
            scale = float(np.max(np.abs(values)))
            np.testing.assert_allclose(o["scores"].scores[det][name], values, rtol=4 * rel, atol=4 * rel * scale)
    summary = dict(o["summary"].rows)
    assert summary["backend"] == "onnx-cpu"
    assert summary["ONNX max |onnx - torch| (parity check)"] < rel * 100


def test_metrics_are_meaningful_on_digits(torch_and_onnx):
    t, _ = torch_and_onnx
    rows = {(r[0], r[1]): dict(zip(t["ood-metrics"].columns, r)) for r in t["ood-metrics"].rows}
    assert dict(t["summary"].rows)["ID test accuracy"] > 0.95
    for det in ("msp", "energy", "mahalanobis", "knn"):
        assert rows[(det, "near mean")]["auroc"] > 0.9, det
        assert rows[(det, "far mean")]["auroc"] > 0.85, det
    assert rows[("mahalanobis", "far mean")]["auroc"] > rows[("msp", "far mean")]["auroc"]
    assert len(t["most-ood"].images) == 4
    scores = t["scores"]  # each score row's picture travels with the score set
    for name, values in scores.scores["msp"].items():
        assert scores.thumbnails[name].dtype == np.uint8 and len(scores.thumbnails[name]) == len(values)


def test_odin_runs_on_torch_and_is_skipped_on_onnx_with_a_note():
    t, _ = _run(backend="torch", params={"detectors": ["odin"], "top_k_images": 0})
    assert "odin" in t["scores"].scores
    o, _ = _run(backend="onnx", params={"detectors": ["odin", "msp"], "top_k_images": 0})
    assert list(o["scores"].scores) == ["msp"]
    assert "ODIN skipped" in o["summary"].notes


def _folder_with_a_corrupt_file(tmp_path):
    folder = tmp_path / "extra"
    folder.mkdir()
    for i in range(3):
        Image.fromarray((np.random.default_rng(i).random((20, 20)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated")
    return folder


def test_corrupt_image_in_an_ood_folder_names_the_file(tmp_path):
    folder = _folder_with_a_corrupt_file(tmp_path)
    job, record = Runner().run(RunRequest(task="ood.posthoc", params={"extra_ood_dirs": [str(folder)],
                                                                      "detectors": ["msp"]}))
    assert record.state == RunState.FAILED
    assert "corrupt.jpg" in record.error and "on_bad_image=skip" in record.error


def test_corrupt_image_skipped_and_counted_on_request(tmp_path):
    folder = _folder_with_a_corrupt_file(tmp_path)
    res, job = _run(params={"extra_ood_dirs": [str(folder)], "on_bad_image": "skip", "detectors": ["msp"],
                            "top_k_images": 0})
    assert f"folder:{folder}" in res["scores"].scores["msp"]
    assert len(res["scores"].scores["msp"][f"folder:{folder}"]) == 3
    assert "skipped 1 unreadable file" in res["summary"].notes
    assert "corrupt.jpg" in (job.run_dir / "log.txt").read_text()


def test_weights_of_the_wrong_class_count_are_refused(tmp_path):
    from wb_digits.model import DigitsCNN
    from wb_digits.zoo import save_model

    path = tmp_path / "ten.safetensors"
    save_model(DigitsCNN(num_classes=10), path)
    _, record = Runner().run(RunRequest(task="ood.posthoc", params={"weights": str(path), "detectors": ["msp"]}))
    assert record.state == RunState.FAILED
    assert "10 outputs" in record.error and "6 classes" in record.error
