"""The three tasks end to end through the Runner, on a tiny random CLIP, with good and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunState, RunStore

TINY = {"model": "wb-tiny-clip", "weights": "random"}


@pytest.fixture
def clip_runner():
    from workbench.core.plugins import PluginHost
    from workbench.core.registry import RegistryError

    host = PluginHost()
    try:
        host.registry.task("clip.misalignment")
    except RegistryError:  # entry point not installed yet
        host = PluginHost(extra={"clip-heatmaps": "wb_clipmap.plugin"})
    return Runner(host=host)


def _run(runner, task, params, backend="torch"):
    job, record = runner.run(RunRequest(task=task, params={**TINY, **params}, backend=backend, device="cpu",
                                        execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    return {r.name: r for r in RunStore.results(job.run_dir)}, (job.run_dir / "log.txt").read_text()


def _write_image(path, seed=0):
    cv2.imwrite(str(path), (np.random.default_rng(seed).random((48, 80, 3)) * 255).astype(np.uint8))
    return path


def test_single_pair_gives_every_view(clip_runner, tmp_path):
    image = _write_image(tmp_path / "scene.png")
    results, _ = _run(clip_runner, "clip.misalignment",
                      {"image": str(image), "caption": "a small red circle, above a blue square", "epsilon": 0.0,
                       "words": ["red", "square"]})
    words = results["words"]
    assert words.tokens == ["a", "small", "red", "circle", ",", "above", "a", "blue", "square"]
    assert len(words.scores) == len(words.flags) == len(words.tokens)
    assert words.summary["CLIPScore"] == pytest.approx(2.5 * max(words.summary["cosine"], 0))
    assert words.summary["F-CLIPScore"] <= 0 and words.summary["truncated"] == 0.0
    assert results["relevance"].heat.shape == (8, 8) and results["relevance"].image.shape == (48, 48, 3)
    assert results["relevance-signed"].signed
    assert results["relevance"].caption_words == words.tokens  # the heatmap shows the caption it explains
    assert results["relevance"].caption_flags == [bool(f) for f in words.flags]
    maps, signed = results["word-maps"], results["word-maps-signed"]
    assert maps.kind == "heatmap-grid" and len(maps.heats) == len(signed.heats) == 2 and signed.signed
    assert maps.images[0].shape == (48, 48, 3) and maps.labels[0].startswith("red")
    assert len(results["tokens"].tokens) == 3 + 9
    from workbench.render.export import export_result

    for result in results.values():
        assert export_result(result, tmp_path / "png")


def test_batch_goes_on_past_bad_input_and_ranks_most_misaligned_first(clip_runner, tmp_path):
    _write_image(tmp_path / "a.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    lines = [{"image": "a.png", "caption": "a red circle", "foil_index": 1},
             {"image": "a.png", "caption": "a blue square", "foil_index": -1},
             {"image": "broken.png", "caption": "a green star"},
             {"image": "a.png", "caption": ""},
             {"image": "a.png", "caption": " ".join(["red circle"] * 60)}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{oops\n")
    results, log = _run(clip_runner, "clip.misalignment", {"pairs": str(path), "max_views": 1})
    table = results["pairs"].as_dicts()
    assert len(table) == 5
    scored = [r for r in table if not r["error"]]
    assert len(scored) == 3
    assert [r["F-CLIPScore"] for r in scored] == sorted(r["F-CLIPScore"] for r in scored)
    errors = {r["item"]: r["error"] for r in table if r["error"]}
    assert "broken.png" in errors["pairs:3"] and "empty" in errors["pairs:4"]
    assert [r["truncated"] for r in table if r["item"] == "pairs:5"] == [True]
    assert "pairs.jsonl:6: not valid JSON" in results["pairs"].notes
    assert "truncated" in log and "broken.png" in log
    assert {"view-1-words", "localisation", "ap", "word-prf"} <= set(results)
    pairs = results["pairs"]  # each row carries its image file, so a click shows the item's picture
    assert [pairs.picture(i) for i in range(len(table))] == [r["image"] for r in table]


def test_demo_scenes_give_benchmark_tables(clip_runner):
    results, _ = _run(clip_runner, "clip.misalignment", {"demo_scenes": 2, "max_views": 0, "mode": "most_negative"})
    loc = results["localisation"].as_dicts()
    assert loc[-1]["foil type"] == "all" and loc[-1]["n"] == 2
    pairs = results["pairs"]  # generated scenes: each row carries its scene as a thumbnail
    assert len(pairs.thumbnails) == len(pairs.rows) == 4 and pairs.picture(0).shape == (64, 64, 3)
    assert 0 < loc[-1]["chance (1/words)"] < 0.2


def test_foil_benchmark_reports_per_kind_localisation_and_ap(clip_runner):
    results, _ = _run(clip_runner, "clip.foil-benchmark", {"n_scenes": 4, "n_examples": 1})
    kinds = [r["foil type"] for r in results["localisation"].as_dicts()]
    assert kinds == ["colour", "relation", "shape", "size", "all"]
    ap = results["ap"].as_dicts()
    assert [r["score"] for r in ap][::2] == ["CLIPScore", "F-CLIPScore (threshold)", "F-CLIPScore (most negative)"]
    assert all(0 <= r["all"] <= 1 for r in ap)
    items = results["items"]
    assert len(items.rows) == len(items.thumbnails) == 4 * 5  # each caption with its scene's picture
    by_scene: dict[str, list] = {}
    for i, row in enumerate(items.rows):  # items: "test-<scene>" and its foils "test-<scene>-<kind>"
        by_scene.setdefault("-".join(row[0].split("-")[:2]), []).append(items.picture(i))
    assert len(by_scene) == 4 and all(p.shape == (64, 64, 3) for ps in by_scene.values() for p in ps)
    assert all(all(np.array_equal(p, ps[0]) for p in ps) for ps in by_scene.values())
    assert [r["foil type"] for r in results["pointing"].as_dicts()] == ["colour", "shape", "size", "all"]
    assert results["examples"].signed and len(results["examples"].heats) == len(results["examples"].images) == 2
    prefers = results["clip-prefers-true"].as_dicts()
    assert [r["n"] for r in prefers] == [4, 4, 4, 4]
    assert all(0 <= r["share cos(true) > cos(foil)"] <= 1 for r in prefers)
    assert set(results["true-vs-foil"].scores["CLIPScore"]) == {"true", "foil-colour", "foil-shape", "foil-size",
                                                                "foil-relation"}


def test_object_phrase_of_a_shapes_caption():
    from wb_clipmap.task_foils import object_phrase

    words = ["a", "small", "red", "circle", "above", "a", "large", "blue", "square"]
    assert list(object_phrase(words, 2)) == [1, 2, 3] and list(object_phrase(words, 7)) == [6, 7, 8]
    assert list(object_phrase(words, 4)) == [4]


def test_clipscore_on_onnx_matches_torch(clip_runner, tmp_path):
    _write_image(tmp_path / "a.png")
    _write_image(tmp_path / "b.png", seed=1)
    (tmp_path / "pairs.csv").write_text("image,caption\na.png,a red circle\nb.png,a blue square\nmissing.png,x\n")
    params = {"pairs": str(tmp_path / "pairs.csv")}
    torch_rows, _ = _run(clip_runner, "clip.score", params, "torch")
    onnx_rows, log = _run(clip_runner, "clip.score", params, "onnx")
    assert log.count("inference: ONNX Runtime CPUExecutionProvider, exported") == 2
    by_item = {r["item"]: r for r in torch_rows["clipscore"].as_dicts()}
    for row in onnx_rows["clipscore"].as_dicts():
        if row["error"]:
            assert "missing.png" in row["error"]
            continue
        assert row["cosine"] == pytest.approx(by_item[row["item"]]["cosine"], abs=1e-4)
    table = onnx_rows["clipscore"]
    assert [table.picture(i) for i in range(3)] == [r["image"] for r in table.as_dicts()]


def test_attributions_refuse_onnx(clip_runner):
    from workbench.core.errors import DeviceError

    with pytest.raises(DeviceError, match="torch only"):
        clip_runner.prepare(RunRequest(task="clip.misalignment", params=TINY, backend="onnx"))


def test_bad_parameters_name_the_parameter(clip_runner, tmp_path):
    from workbench.core.errors import ParamError

    with pytest.raises(ParamError, match="epsilon"):
        clip_runner.prepare(RunRequest(task="clip.misalignment", params={"epsilon": 0.1}))
    job, record = clip_runner.run(RunRequest(task="clip.misalignment", params={**TINY, "caption": "a red circle"},
                                             device="cpu", execution="inproc"))
    assert record.state == RunState.FAILED and "'caption' needs 'image'" in record.error


def test_listing_the_plugin_does_not_import_torch():
    code = ("import sys; from workbench.core.plugins import PluginHost; "
            "h = PluginHost(extra={'clip-heatmaps-probe': 'wb_clipmap.plugin'}); "
            "import wb_clipmap.plugin; print('torch' in sys.modules, 'open_clip' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["False", "False"]


def test_a_missing_image_or_a_file_without_a_usable_pair_fails_the_run_naming_why(clip_runner, tmp_path):
    job, record = clip_runner.run(RunRequest(task="clip.misalignment", params={
        **TINY, "image": str(tmp_path / "missing.png"), "caption": "a red circle"}, device="cpu",
        execution="inproc"))
    assert record.state == RunState.FAILED and "missing.png" in record.error and "0 pairs" not in record.error
    pairs = {r.name: r for r in RunStore.results(job.run_dir)}["pairs"]
    assert "0 pairs scored, 1 failed" in pairs.notes
    (tmp_path / "pairs.csv").write_text("image,caption\nnope.png,a red circle\nalso-missing.png,a blue square\n")
    job, record = clip_runner.run(RunRequest(task="clip.misalignment", params={**TINY, "pairs": str(
        tmp_path / "pairs.csv")}, device="cpu", execution="inproc"))
    assert record.state == RunState.FAILED and "no pair could be scored (2 failed" in record.error
    assert "nope.png" in record.error
