"""clim.region-score: vocabulary and box checks, known-answer region scoring, the task end to end."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wb_clim.inputs import check_box
from wb_clim.scoring import score_regions
from wb_clim.vocabulary import attribute_vocabulary, check_classes, check_template, prompts, truth_index
from workbench.api import UserError
from workbench.clip.dense import region_features
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore

TINY = {"model": "wb-tiny-clip", "weights": "random"}


# --- vocabulary ---------------------------------------------------------------------------------------------------
def test_vocabulary_checks_name_the_problem():
    assert check_classes([" red circle ", "blue square"]) == ["red circle", "blue square"]
    with pytest.raises(UserError, match="vocabulary is empty"):
        check_classes([])
    with pytest.raises(UserError, match="class name 1 of the vocabulary is empty"):
        check_classes(["cat", "  "])
    with pytest.raises(UserError, match=r"duplicate class names.*'Red  Circle' \(classes 0 and 2\)"):
        check_classes(["red circle", "cat", "Red  Circle"])
    with pytest.raises(UserError, match="exactly once"):
        check_template("a photo")
    assert prompts(["cat", "dog"], "a photo of a {}.") == ["a photo of a cat.", "a photo of a dog."]


def test_attribute_vocabulary_and_truth_labels():
    names = attribute_vocabulary({"colour": ("red", "blue"), "shape": ("circle", "star"), "size": ("small",)})
    assert names == ["red circle", "red star", "blue circle", "blue star"]
    assert truth_index("small blue star", names) == 3
    assert truth_index("a red circle", names) == 0 and truth_index("green star", names) is None
    assert truth_index("red star", ["star", "red star"]) == 1  # the longest class name the label ends with
    with pytest.raises(UserError, match="has no colour"):
        attribute_vocabulary({"shape": ("circle",)})


# --- boxes --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, problem", [
    ([1, 2, 3], "has 3 numbers"),
    ("abcd", "is not 4 numbers"),
    ([1, 2, float("nan"), 4], "non-finite"),
    ([5, 5, 5, 9], "zero or negative area"),
    ([9, 5, 2, 9], "zero or negative area"),
    ([70, 10, 90, 20], "lies outside the 64x48 image"),
    ([-9, -9, 0, 0], "lies outside"),
])
def test_unusable_boxes_are_refused_with_the_reason(raw, problem):
    box, message = check_box(raw, 48, 64)
    assert box is None and problem in message


def test_boxes_sticking_out_are_clipped_and_said_so():
    assert check_box([1, 2, 30, 40], 48, 64) == ((1.0, 2.0, 30.0, 40.0), "")
    box, message = check_box([-4, 10, 70, 20], 48, 64)
    assert box == (0.0, 10.0, 64.0, 20.0) and "clipped" in message


# --- known-answer scoring (notes 5.3, check 8) -------------------------------------------------------------------
def test_synthetic_regions_get_their_class_and_permute_with_boxes_and_vocabulary():
    d, h, w = 4, 4, 6
    dense = torch.zeros(d, h, w)
    dense[0, :, :3] = 1.0  # region A (left half) = e1
    dense[1, :, 3:] = 1.0  # region B (right half) = e2
    text = torch.eye(d)[:3]  # classes e1, e2, e3
    boxes = np.array([[0, 0, 30, 40], [30, 0, 60, 40]], float)  # A and B in a 40x60 image
    scores = score_regions(region_features(dense, boxes, (40, 60)), text, temperature=50.0)
    assert scores.probs.argmax(1).tolist() == [0, 1]
    assert np.allclose(scores.probs.sum(1), 1.0)
    assert np.allclose(scores.cosines[:, :2], np.eye(2), atol=1e-6)
    flipped = score_regions(region_features(dense, boxes[::-1].copy(), (40, 60)), text, 50.0)
    assert np.allclose(flipped.probs, scores.probs[::-1])
    order = [2, 0, 1]
    permuted = score_regions(region_features(dense, boxes, (40, 60)), text[order], 50.0)
    assert np.allclose(permuted.probs, scores.probs[:, order]) and permuted.probs.argmax(1).tolist() == [1, 2]
    top, p = scores.top(2)
    assert top[:, 0].tolist() == [0, 1] and np.all(p[:, 0] >= p[:, 1])


def test_synthetic_region_scoring_through_a_normalised_dense_map():
    dense = F.normalize(torch.randn(8, 5, 5), dim=0)
    text = F.normalize(torch.randn(3, 8), dim=-1)
    cell = region_features(dense, [[20, 40, 30, 50]], (50, 50))  # cell row 4, column 2
    assert torch.allclose(cell[0], dense[:, 4, 2], atol=1e-6)
    scores = score_regions(cell, text, 10.0)
    assert np.allclose(scores.cosines[0], (text @ dense[:, 4, 2]).numpy(), atol=1e-6)


# --- the task -----------------------------------------------------------------------------------------------------
def _run(runner, task, params, ok=True):
    job, record = runner.run(RunRequest(task=task, params={**TINY, **params}, backend="torch", device="cpu",
                                        execution="inproc"))
    if not ok:
        assert record.state == RunState.FAILED
        return record.error
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    return {r.name: r for r in RunStore.results(job.run_dir)}


def _picture(path, h=48, w=80):
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, : w // 2] = (230, 30, 30)
    rgb[:, w // 2:] = (40, 70, 240)
    cv2.imwrite(str(path), rgb[..., ::-1])
    return path


def test_shapes_scenes_by_default_give_every_view(clim_runner, tmp_path):
    results = _run(clim_runner, "clim.region-score", {"n_scenes": 2, "max_views": 1, "top_k": 3})
    assert {"regions-0", "class-maps-0", "predictions", "similarity"} <= set(results)
    assert "regions-1" not in results
    regions, maps = results["regions-0"], results["class-maps-0"]
    assert regions.image.shape == (64, 64, 3) and len(regions.labels) == len(regions.boxes) >= 2
    assert all(0 <= s <= 1 for s in regions.scores)
    assert maps.heats[0].shape == (8, 8) and set(maps.labels) == set(regions.labels)
    table = results["predictions"]
    assert table.columns[-2] == "top-3" and all(r[-1] in (True, False) for r in table.rows)
    assert "70 classes from the shapes world's colour x shape vocabulary" in table.notes
    assert "boxes scored" in table.notes
    assert len(table.thumbnails) == len(table.rows)  # a row's picture is its box cut out of the scene
    x0, y0 = np.floor(regions.boxes[0][:2]).astype(int)
    x1, y1 = np.ceil(regions.boxes[0][2:]).astype(int)
    np.testing.assert_array_equal(table.picture(0), regions.image[y0:y1, x0:x1])
    sims = results["similarity"]
    assert len(sims.columns) == 2 + 70 and len(sims.rows) == len(table.rows)
    from workbench.render.export import export_result

    for result in results.values():
        assert export_result(result, tmp_path / "png")


def test_box_file_skips_bad_boxes_and_counts_them(clim_runner, tmp_path):
    image = _picture(tmp_path / "two.png")
    boxes = [{"box": [0, 0, 40, 48], "label": "red"}, {"box": [40, 0, 80, 48], "label": "blue"},
             {"box": [10, 10, 10, 30]}, {"box": [100, 0, 120, 10]}, {"box": [float("nan"), 0, 5, 5]},
             {"box": [-5, 0, 20, 60]}, {"nobox": 1}]
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    results = _run(clim_runner, "clim.region-score", {"image": str(image), "boxes": str(tmp_path / "boxes.json"),
                                                      "classes": ["red", "blue", "green"], "temperature": 75})
    table = results["predictions"]
    assert [r[1] for r in table.rows] == ["box 0", "box 1", "box 5"]
    assert table.rows[2][2:6] == [0.0, 0.0, 20.0, 48.0]  # clipped to the 80x48 picture
    notes = table.notes
    assert "4 of 7 boxes skipped" in notes
    for expected in ("box 2 has zero or negative area", "box 3 lies outside the 80x48 image", "box 4 has "
                     "non-finite", "box 6 skipped", "box 5 sticks out", "3 classes from the 'classes' parameter",
                     "temperature 75"):
        assert expected in notes, expected
    assert results["similarity"].columns == ["image", "box", "red", "blue", "green"]


def test_all_boxes_skipped_is_a_failure(clim_runner, tmp_path):
    image = _picture(tmp_path / "one.png")
    (tmp_path / "bad.json").write_text(json.dumps([{"box": [0, 0, 0, 0]}, {"box": [200, 200, 300, 300]}]))
    error = _run(clim_runner, "clim.region-score", {"image": str(image), "boxes": str(tmp_path / "bad.json")},
                 ok=False)
    assert "all 2 boxes were skipped" in error and "box 0 has zero or negative area" in error


def test_coco_annotations_with_unknown_ids_are_skipped_and_named(clim_runner, tmp_path):
    _picture(tmp_path / "a.png")
    coco = {"images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "missing.png"}],
            "categories": [{"id": 7, "name": "red"}, {"id": 9, "name": "blue"}],
            "annotations": [{"id": 10, "image_id": 1, "category_id": 7, "bbox": [0, 0, 40, 48]},
                            {"id": 11, "image_id": 1, "category_id": 9, "bbox": [40, 0, 40, 48]},
                            {"id": 12, "image_id": 5, "category_id": 7, "bbox": [0, 0, 5, 5]},
                            {"id": 13, "image_id": 1, "category_id": 3, "bbox": [0, 0, 5, 5]},
                            {"id": 14, "image_id": 2, "category_id": 7, "bbox": [0, 0, 5, 5]},
                            {"id": 15, "image_id": 1, "category_id": 7, "bbox": [5, 5, 0, 4]}]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    results = _run(clim_runner, "clim.region-score", {"boxes": str(tmp_path / "ann.json")})
    table = results["predictions"]
    assert [r[1] for r in table.rows] == ["annotation 10", "annotation 11"]
    assert [r[6] for r in table.rows] == ["red", "blue"]
    notes = table.notes
    assert "4 of 6 boxes skipped" in notes and "2 classes from the COCO file's categories" in notes
    assert "annotation 12 skipped: its image id 5 is not in 'images'" in notes
    assert "annotation 13 skipped: its category id 3 is not in 'categories'" in notes
    assert "image 2 (missing.png): skipped its 1 box(es): the image cannot be read" in notes
    assert "annotation 15 has zero or negative area" in notes


@pytest.mark.parametrize("params, message", [
    ({"classes": ["red", "blue", "Red"]}, "duplicate class names"),
    ({"classes": ["red", " "]}, "class name 1 of the vocabulary is empty"),
    ({"template": "a photo"}, "exactly once"),
    ({"image": "x.png"}, "'image' needs 'boxes'"),
    ({"min_objects": 3, "max_objects": 2}, "min_objects=3 is larger"),
])
def test_bad_parameters_fail_with_a_clear_message(clim_runner, params, message):
    assert message in _run(clim_runner, "clim.region-score", {"n_scenes": 1, **params}, ok=False)


def test_box_list_needs_an_image_and_a_readable_file(clim_runner, tmp_path):
    (tmp_path / "b.json").write_text(json.dumps([{"box": [0, 0, 4, 4]}]))
    assert "needs 'image'" in _run(clim_runner, "clim.region-score", {"boxes": str(tmp_path / "b.json")}, ok=False)
    (tmp_path / "broken.json").write_text("{oops")
    assert "not a readable JSON box file" in _run(clim_runner, "clim.region-score",
                                                  {"boxes": str(tmp_path / "broken.json")}, ok=False)
    assert "no such box file" in _run(clim_runner, "clim.region-score", {"boxes": str(tmp_path / "none.json")},
                                      ok=False)
