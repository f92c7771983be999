"""The tasks end to end through the Runner: results, the ONNX path, reusable CAFA statistics, bad input."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

from workbench.core.params import ParamError
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore

FAST = {"passes": 1, "corruption": "defocus_blur", "severity": 3, "order": "class-sorted"}


def _run(runner, task, params, backend="torch"):
    job, record = runner.run(RunRequest(task=task, params=params, backend=backend, device="cpu",
                                        execution="inproc"))
    return job, record, {r.name: r for r in RunStore.results(job.run_dir)}


def test_listing_plugins_does_not_import_torch():
    code = ("import sys; from workbench.core.plugins import get_host; h = get_host(); "
            "assert 'tta.adapt' in h.registry.tasks; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_adapt_lame_on_class_sorted_stream(runner):
    job, record, results = _run(runner, "tta.adapt", {**FAST, "method": "lame"})
    assert record.state == RunState.COMPLETED, record.error
    assert {"accuracy", "summary", "lame-energy", "lame-changed", "lame-changes"} <= set(results)
    row = results["summary"].as_dicts()[0]
    assert row["accuracy"] >= row["no adaptation"]
    curves = results["accuracy"].series
    assert curves["lame cumulative"].shape == (2, 6) and "no adaptation per batch" in curves
    changed = results["lame-changes"].as_dicts()[0]["changed"]
    assert len(results["lame-changed"].images) == min(changed, 48)
    assert all("->" in c for c in results["lame-changed"].captions)
    samples = results["changed-samples"]  # every changed prediction, each row with its stream image
    assert len(samples.rows) == min(changed, 500) == len(samples.thumbnails)
    stream_pos = samples.columns.index("stream position")
    first = samples.rows[0]
    assert first[samples.columns.index("no adaptation")] != first[samples.columns.index("lame")]
    assert samples.picture(0).dtype == np.uint8 and samples.picture(0).ndim == 2 and first[stream_pos] >= 0
    fixed = sum(r[-1] == "fixed" for r in samples.rows)
    assert fixed == results["lame-changes"].as_dicts()[0]["fixed (wrong->right)"]
    from workbench.render.figures import build_figure

    assert all(build_figure(r) is not None for r in results.values() if r.kind != "metrics")


@pytest.fixture(scope="module")
def exported_onnx(tmp_path_factory):
    import torch

    from wb_digits.export import export_classifier
    from workbench.api import zoo_weights

    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("onnx") / "digits_features_logits.onnx"
    report = export_classifier(zoo_weights("digits-cnn"), path)
    assert all(report.max_abs_diff[n] <= report.tolerance[n] for n in report.tolerance)
    return path


def test_lame_on_onnx_features_matches_torch(runner, exported_onnx):
    params = {**FAST, "method": "lame"}
    _, rec_onnx, onnx_results = _run(runner, "tta.adapt", {**params, "onnx_file": str(exported_onnx)}, "onnx")
    assert rec_onnx.state == RunState.COMPLETED, rec_onnx.error
    _, _, torch_results = _run(runner, "tta.adapt", params)
    a = onnx_results["summary"].as_dicts()[0]["accuracy"]
    b = torch_results["summary"].as_dicts()[0]["accuracy"]
    assert abs(a - b) <= 1 / 325


def test_gradient_methods_refuse_onnx(runner, exported_onnx):
    _, record, _ = _run(runner, "tta.adapt", {**FAST, "method": "tent", "onnx_file": str(exported_onnx)}, "onnx")
    assert record.state == RunState.FAILED and "runs on torch only" in record.error


def test_cafa_saves_statistics_that_a_second_run_reuses_and_another_model_refuses(runner, tmp_path):
    job, record, results = _run(runner, "tta.adapt", {**FAST, "method": "cafa", "cafa_per_class": 30})
    assert record.state == RunState.COMPLETED, record.error
    assert {"cafa-distances", "adaptation-loss", "parameter-change"} <= set(results)
    assert results["cafa-distances"].series["intra-class (to pseudo-label)"].shape == (2, 6)
    stats = job.run_dir / "artifacts" / "cafa_stats_file.safetensors"
    assert stats.is_file()
    job2, again, _ = _run(runner, "tta.adapt", {**FAST, "method": "cafa", "cafa_stats_file": str(stats)})
    assert again.state == RunState.COMPLETED, again.error
    assert not (job2.run_dir / "artifacts" / "cafa_stats_file.safetensors").exists()

    from wb_digits.model import DigitsCNN
    from wb_digits.zoo import save_model

    other = tmp_path / "other.safetensors"
    save_model(DigitsCNN(num_classes=6), other)
    _, refused, _ = _run(runner, "tta.adapt", {**FAST, "method": "cafa", "cafa_stats_file": str(stats),
                                               "model_path": str(other)})
    assert refused.state == RunState.FAILED and "different model" in refused.error


def test_batch_of_one_with_knn_is_refused_before_running(runner):
    with pytest.raises(ParamError, match="batch_size=1 with lame_affinity=knn"):
        runner.prepare(RunRequest(task="tta.adapt", params={"method": "lame", "batch_size": 1}, device="cpu"))


def test_benchmark_writes_table_and_csv(runner):
    params = {"corruptions": ["contrast"], "severities": [3], "orders": ["iid"],
              "methods": ["none", "bn-stats", "tent"], "passes": 1}
    job, record, results = _run(runner, "tta.benchmark", params)
    assert record.state == RunState.COMPLETED, record.error
    row = results["benchmark"].as_dicts()[0]
    assert row["tent"] > row["none"] + 0.1 and row["bn-stats"] > row["none"] + 0.1
    with (job.run_dir / "artifacts" / "tta_benchmark.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["corruption"] == "contrast" and float(rows[0]["tent"]) == row["tent"]


def test_source_stats_task(runner):
    job, record, results = _run(runner, "tta.source-stats", {"per_class": 20})
    assert record.state == RunState.COMPLETED, record.error
    table = results["source-stats"].as_dicts()
    assert len(table) == 6 and all(r["mean intra distance"] < r["mean distance to other classes"] for r in table)
    assert (job.run_dir / "artifacts" / "cafa_stats_file.safetensors").is_file()


def _digits_folder(root, per_class=6):
    import cv2

    from wb_digits.world import load_digits_world

    world = load_digits_world()
    for c in range(6):
        (root / str(c)).mkdir(parents=True)
        for k, i in enumerate((world.y_test == c).nonzero()[0][:per_class]):
            cv2.imwrite(str(root / str(c) / f"{k}.png"), (world.x_test[i, 0] * 255).astype("uint8"))
    return root


def test_stream_from_an_image_folder(runner, tmp_path):
    folder = _digits_folder(tmp_path / "stream")
    params = {"data": str(folder), "method": "lame", "batch_size": 8, "passes": 1, "corruption": "contrast",
              "severity": 2, "order": "iid"}
    _, record, results = _run(runner, "tta.adapt", params)
    assert record.state == RunState.COMPLETED, record.error
    assert results["summary"].as_dicts()[0]["no adaptation"] > 0.9
    _, refused, _ = _run(runner, "tta.adapt", {**params, "method": "cafa"})
    assert refused.state == RunState.FAILED and "tta.source-stats" in refused.error
    (folder / "0" / "broken.png").write_bytes(b"not an image")
    _, broken, _ = _run(runner, "tta.adapt", params)
    assert broken.state == RunState.FAILED and "broken.png" in broken.error
