"""Flagging, span merging, CLIPScore and F-CLIPScore on hand-made score vectors (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from wb_clipmap.scoring import clipscore, f_clipscore, flag_words

WORDS = ["a", "red", "circle", ",", "blue", "square", "."]


def test_no_flag_gives_zero_f_clipscore():
    scores = np.array([1e-3, 2e-4, 3e-4, -1.0, 1e-5, 0.0, -1.0])
    flagging = flag_words(WORDS, scores, "threshold", -5e-5)
    assert not flagging.flags.any() and flagging.spans == [] and flagging.predicted is None
    assert flagging.negative == 0.0 and f_clipscore(flagging.negative, 0.3) == 0.0


def test_adjacent_flags_merge_into_one_span_with_the_mean_score():
    scores = np.array([1e-3, -2e-4, -4e-4, 0.0, 1e-3, -1e-4, 0.0])
    flagging = flag_words(WORDS, scores, "threshold", -5e-5)
    assert [(s.start, s.end, s.text) for s in flagging.spans] == [(1, 2, "red circle"), (5, 5, "square")]
    assert flagging.spans[0].score == pytest.approx(-3e-4)
    assert flagging.negative == pytest.approx(-7e-4)
    assert flagging.predicted == 2


def test_flags_merge_across_punctuation_and_punctuation_is_never_flagged():
    scores = np.array([1e-3, 1e-3, -2e-4, -9.0, -3e-4, 1e-3, -9.0])
    flagging = flag_words(WORDS, scores, "threshold", -5e-5)
    assert not flagging.flags[3] and not flagging.flags[6]
    assert [s.text for s in flagging.spans] == ["circle blue"]


def test_most_negative_returns_the_arg_min_even_when_positive():
    scores = np.array([3e-4, 2e-4, 1e-4, 0.5, 5e-4, 6e-4, 0.5])
    flagging = flag_words(WORDS, scores, "most_negative")
    assert flagging.predicted == 2 and flagging.flags.sum() == 1 and flagging.negative == pytest.approx(1e-4)


def test_most_negative_may_pick_punctuation_as_clip4dm_does_unless_workbench_rules():
    scores = np.array([3e-4, 2e-4, 1e-4, 0.0, 5e-4, 6e-4, 0.0])
    assert flag_words(WORDS, scores, "most_negative").predicted == 3
    assert flag_words(WORDS, scores, "most_negative", rules="workbench").predicted == 2


def test_words_outside_eligible_are_not_flagged():
    scores = np.array([1e-3, -2e-4, 1e-3, 0.0, 1e-3, -9e-4, 0.0])
    eligible = np.array([1, 1, 1, 1, 1, 0, 0], bool)
    flagging = flag_words(WORDS, scores, "most_negative", eligible=eligible)
    assert flagging.predicted == 1


@pytest.mark.parametrize("cosine", [-0.4, 0.0, 0.2, 1.0])
def test_score_ranges(cosine):
    assert 0.0 <= clipscore(cosine) <= 2.5
    assert clipscore(cosine) == pytest.approx(2.5 * max(cosine, 0.0))
    negative = -3e-4
    assert f_clipscore(negative, cosine) <= 0.0
    assert f_clipscore(negative, cosine) == pytest.approx(negative * (1 - max(cosine, 0.0)))


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        flag_words(WORDS, np.zeros(7), "lowest")
