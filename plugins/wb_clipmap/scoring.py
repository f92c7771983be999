"""Flagging misaligned words, merging them into spans, CLIPScore and F-CLIPScore (CLIP4DM's definitions).

Scores here are on the cosine scale: ``epsilon`` is compared with attributions of ``s = cos(image, text)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wb_clipmap.words import is_punctuation

CLIPSCORE_W = 2.5
Mode = Literal["threshold", "most_negative"]


@dataclass
class Span:
    """Adjacent flagged words ``start..end`` (inclusive word indices), their text and mean score."""

    start: int
    end: int
    text: str
    score: float


@dataclass
class Flagging:
    """The words a mode flags, the merged spans, the negative evidence ``N`` (<= 0 in threshold mode) and the
    predicted misaligned word (the most negative flagged one; None when nothing is flagged)."""

    flags: np.ndarray
    spans: list[Span] = field(default_factory=list)
    negative: float = 0.0
    predicted: int | None = None


def flag_words(words: Sequence[str], scores: np.ndarray, mode: Mode = "threshold", epsilon: float = -5e-5,
               eligible: np.ndarray | None = None, rules: str = "reference") -> Flagging:
    """Flag words: ``threshold`` flags every word with score < ``epsilon``; ``most_negative`` the arg-min word
    (the first one on a tie).

    Words outside ``eligible`` (e.g. cut by truncation) are never flagged; which punctuation is skipped follows
    :func:`flaggable`. In ``most_negative`` mode the minimum is flagged even when it is positive, as CLIP4DM does
    for FOIL. Adjacent flags merge into spans once the skipped words are left out, as CLIP4DM's word indices count
    the filtered list.
    """
    scores = np.asarray(scores, dtype=float)
    ok = flaggable(words, eligible, mode, rules)
    flags = np.zeros(len(words), bool)
    if not ok.any():
        return Flagging(flags=flags)
    if mode == "threshold":
        flags = ok & (scores < epsilon)
    elif mode == "most_negative":
        flags[np.flatnonzero(ok)[np.argmin(scores[ok])]] = True
    else:
        raise ValueError(f"mode must be 'threshold' or 'most_negative', got {mode!r}")
    spans = merge_spans(words, scores, flags, ok)
    if not flags.any():
        return Flagging(flags=flags)
    predicted = int(np.flatnonzero(flags)[np.argmin(scores[flags])])
    negative = float(scores[flags].sum()) if mode == "threshold" else float(scores[predicted])
    return Flagging(flags=flags, spans=spans, negative=negative, predicted=predicted)


def flaggable(words: Sequence[str], eligible: np.ndarray | None = None, mode: Mode = "threshold",
              rules: str = "reference") -> np.ndarray:
    """Words that may be flagged, within ``eligible`` when given. CLIP4DM (``rules="reference"``) skips its
    punctuation (:func:`is_punctuation`) in threshold mode only and lets most-negative mode pick any word; the
    workbench rules skip punctuation-only words in both modes."""
    if rules == "reference" and mode == "most_negative":
        ok = np.ones(len(words), bool)
    else:
        ok = np.array([not is_punctuation(w, rules) for w in words], bool)
    return ok & np.asarray(eligible, bool) if eligible is not None else ok


def merge_spans(words: Sequence[str], scores: np.ndarray, flags: np.ndarray, eligible: np.ndarray) -> list[Span]:
    """Merge flagged words that are adjacent once punctuation is skipped; a span's score is its words' mean."""
    order = np.flatnonzero(eligible)
    spans: list[list[int]] = []
    for pos, index in enumerate(order):
        if not flags[index]:
            continue
        if spans and pos > 0 and spans[-1][-1] == order[pos - 1]:
            spans[-1].append(int(index))
        else:
            spans.append([int(index)])
    return [Span(start=s[0], end=s[-1], text=" ".join(words[i] for i in s), score=float(np.mean(scores[s])))
            for s in spans]


def clipscore(cosine: float, w: float = CLIPSCORE_W) -> float:
    """Hessel et al.'s CLIPScore, ``w * max(cos, 0)`` with w = 2.5."""
    return w * max(float(cosine), 0.0)


def f_clipscore(negative: float, cosine: float) -> float:
    """CLIP4DM's F-CLIPScore ``N * (1 - max(cos, 0))``: 0 without flags, more negative with stronger evidence."""
    return float(negative) * (1.0 - max(float(cosine), 0.0))
