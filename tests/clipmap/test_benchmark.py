"""Benchmark metrics on hand-made scored pairs, and the shapes-world ground truth the benchmark uses."""

from __future__ import annotations

import numpy as np
import pytest

from wb_clipmap.benchmark import Scored, ap_table, localisation_table, pointing_table, prf_table
from wb_clipmap.readers import Pair
from wb_clipmap.scoring import flag_words
from wb_clipmap.sources import shapes_pairs

WORDS = ["a", "red", "circle", "above", "a", "blue", "square"]


def _scored(scores, is_foil, foil_index=None, cosine=0.3, group="colour", signed=None, region=None):
    scores = np.asarray(scores, float)
    pair = Pair(item="x", caption=" ".join(WORDS), image=np.zeros((16, 16, 3), np.uint8), is_foil=is_foil,
                foil_index=foil_index, group=group if is_foil else "true", region=region)
    return Scored(pair=pair, words=WORDS, scores=scores, eligible=np.ones(7, bool), cosine=cosine,
                  threshold=flag_words(WORDS, scores, "threshold", -1e-3),
                  lowest=flag_words(WORDS, scores, "most_negative"), image_signed=signed)


def test_localisation_chance_and_threshold_misses():
    hit = _scored([0, -5e-3, 0, 0, 0, 0, 0], True, 1)
    miss = _scored([0, 0, -5e-4, 0, 0, 0, 0], True, 1)
    rows = {r["foil type"]: r for r in localisation_table([hit, miss]).as_dicts()}
    assert rows["all"]["LA most-negative"] == 0.5 and rows["all"]["chance (1/words)"] == pytest.approx(1 / 7)
    assert rows["all"]["LA threshold"] == 0.5 and rows["all"]["share flagged (threshold)"] == 0.5


def test_ap_is_one_when_every_foil_scores_below_every_true_caption():
    scored = [_scored([1e-3] * 7, False, cosine=0.9), _scored([1e-3] * 7, False, cosine=0.8),
              _scored([-5e-3] + [0] * 6, True, 0, cosine=0.2), _scored([-4e-3] + [0] * 6, True, 0, cosine=0.1)]
    table = ap_table(scored).as_dicts()
    assert all(r["all"] == pytest.approx(1.0) for r in table)


def test_word_prf_counts():
    scored = [_scored([0, -5e-3, -5e-3, 0, 0, 0, 0], True, 1), _scored([0] * 7, False)]
    row = prf_table(scored).as_dicts()[0]
    assert (row["TP"], row["FP"], row["FN"]) == (1, 1, 0) and row["precision"] == 0.5 and row["recall"] == 1.0


def test_pointing_game_hits_inside_the_box():
    signed = np.zeros((4, 4))
    signed[3, 0] = -1.0  # cell centre (x=2, y=14) of a 16x16 image
    inside = _scored([0] * 7, True, 1, signed=signed, region=(0, 8, 8, 16))
    outside = _scored([0] * 7, True, 1, signed=signed, region=(8, 0, 16, 8))
    rows = {r["foil type"]: r for r in pointing_table([inside, outside]).as_dicts()}
    assert rows["all"]["pointing accuracy"] == 0.5 and rows["all"]["chance (box share)"] == 0.25


def test_shapes_foils_know_their_word_and_object():
    from wb_shapes.world import generate_scenes

    pairs = shapes_pairs(6, "test", 0, 64, 2, 3)
    scenes = {f"test-{s.index}": s for s in generate_scenes(6, "test", 0, 64, 2, 3)}
    for pair in pairs:
        if not pair.is_foil:
            continue
        scene = scenes[pair.item.rsplit("-", 1)[0]]
        foil = scene.foils[pair.group]
        assert pair.caption.split()[pair.foil_index] == foil.new_word
        if pair.group == "colour":
            (x0, y0, x1, y1) = pair.region
            obj = next(o for o in scene.objects if o.box == pair.region)
            assert obj.colour == foil.original_word and x0 < obj.centre[0] < x1 and y0 < obj.centre[1] < y1
        assert (pair.region is None) == (pair.group == "relation")
