"""Pairs readers: CSV, JSONL, FOIL COCO JSON and folders, with bad input that names the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wb_clipmap.readers import PairsError, read_pairs


def test_csv_reads_pairs_with_ground_truth(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("image,caption,foil_index\nimgs/a.png,a red circle,1\nimgs/b.png,a blue square,-1\n")
    pairs = read_pairs(path).pairs
    assert [p.caption for p in pairs] == ["a red circle", "a blue square"]
    assert pairs[0].image_path == str(tmp_path / "imgs" / "a.png")
    assert pairs[0].is_foil and pairs[0].foil_index == 1 and pairs[1].is_foil is False
    assert list(pairs[0].labels()) == [False, True, False] and not pairs[1].labels().any()


def test_csv_missing_a_column_names_the_file_and_column(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("image,text\na.png,a red circle\n")
    with pytest.raises(PairsError, match=r"pairs\.csv: missing column\(s\) caption"):
        read_pairs(path)


def test_non_utf8_text_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_bytes('{"image": "a.png", "caption": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(PairsError, match=r"pairs\.jsonl: not UTF-8"):
        read_pairs(path)


def test_jsonl_bad_lines_are_reported_and_skipped(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"image": "a.png", "caption": "a red circle", "word_labels": [0, 1, 0]}\n'
                    "{not json\n"
                    '{"image": "b.png"}\n'
                    '{"image": "c.png", "caption": "a star", "foil_index": "x"}\n')
    result = read_pairs(path)
    assert len(result.pairs) == 1 and result.pairs[0].is_foil and result.pairs[0].word_labels == [0, 1, 0]
    assert len(result.problems) == 3
    assert "pairs.jsonl:2: not valid JSON" in result.problems[0]
    assert "pairs.jsonl:3" in result.problems[1] and "pairs.jsonl:4" in result.problems[2]


def test_foil_coco_json(tmp_path):
    doc = {"images": [{"id": 7, "file_name": "COCO_val2014_7.jpg"}],
           "annotations": [{"image_id": 7, "id": 1, "caption": "A dog sitting on a couch.", "foil_word": "ORIG",
                            "target_word": "ORIG"},
                           {"image_id": 7, "id": 2, "caption": "A cat sitting on a couch.", "foil_word": "cat",
                            "target_word": "dog", "foil": True},
                           {"image_id": 9, "id": 3, "caption": "x", "foil_word": "ORIG"}]}
    path = tmp_path / "foil.json"
    path.write_text(json.dumps(doc))
    result = read_pairs(path, image_root=tmp_path / "val2014")
    orig, foil = result.pairs
    assert orig.is_foil is False and foil.is_foil and foil.foil_index == 1 and foil.group == "dog"
    assert foil.image_path == str(tmp_path / "val2014" / "COCO_val2014_7.jpg")
    assert len(result.problems) == 1 and "annotation 2" in result.problems[0]


def test_folder_pairs_skip_missing_and_undecodable_captions(tmp_path):
    import cv2

    for name in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "a.txt").write_text("a black square\n")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe\xfa caption")
    result = read_pairs(tmp_path)
    assert [p.caption for p in result.pairs] == ["a black square"]
    assert any("b.txt: not UTF-8" in p for p in result.problems)
    assert any("c.png: no caption file" in p for p in result.problems)


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "pairs.xml").write_text("<x/>")
    with pytest.raises(PairsError, match="unknown pairs format"):
        read_pairs(tmp_path / "pairs.xml")
    with pytest.raises(PairsError, match="no such file"):
        read_pairs(tmp_path / "nope.csv")
