"""From BPE tokens to words, the way CLIP4DM splits captions: words on spaces, ``.`` and ``,`` on their own.

A word's score is the mean of its BPE tokens' scores. Counting each word's BPE tokens by prefix differences
keeps the mapping exact for any text the CLIP tokenizer accepts (ftfy fixes, lower-casing, punctuation); it
equals CLIP4DM's per-word ``tokenizer.encode`` whenever the tokenizer's cleaning does not act across words.

``rules="reference"`` (the default) follows naver-ai/clip4dm @ cb9e52d (``src/utils.py``: ``space_tokenize``,
``tokenizer2space``; ``src/clip4dm.py``: ``CLIP4DM.__call__``); ``rules="workbench"`` is this project's earlier
reading (see :data:`RULES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: The workbench rules' punctuation: a word made only of these characters is never flagged.
PUNCTUATION = set('.,!"?;:\' ')
#: CLIP4DM's threshold-mode filter drops a word when it is a substring of this string (``word in ...``).
REFERENCE_PUNCTUATION = '.,!"?;:" '

RULES = {
    "splitting": "reference: words split on the space character only (tabs, newlines stay inside a word), the "
                 "full text template + caption split at once, template words counted by str.split(); workbench: "
                 "any whitespace splits, template and caption split apart",
    "threshold_filter": "reference: a word is skipped when it is a substring of '.,!\"?;:\" ' (so '!!' or an "
                        "apostrophe can be flagged); workbench: when it is made only of .,!\"?;:' and spaces",
    "most_negative": "reference: every word may be the most negative one, punctuation included; workbench: "
                     "punctuation-only words are skipped as in threshold mode",
}


def _check(rules: str) -> None:
    if rules not in ("reference", "workbench"):
        raise ValueError(f"word_rules must be 'reference' or 'workbench', got {rules!r}")


def split_words(text: str, rules: str = "reference") -> list[str]:
    """Words with ``.`` and ``,`` as separate words (CLIP4DM's ``space_tokenize``): on the space character
    (``rules="reference"``) or on any whitespace (``"workbench"``)."""
    _check(rules)
    words: list[str] = []
    current = ""
    for char in text:
        breaks = char == " " if rules == "reference" else char.isspace()
        if breaks or char in ".,":
            if current:
                words.append(current)
                current = ""
            if char in ".,":
                words.append(char)
        else:
            current += char
    if current:
        words.append(current)
    return words


def is_punctuation(word: str, rules: str = "reference") -> bool:
    """Whether threshold mode skips ``word``: CLIP4DM's substring test (or a blank word), or the workbench's
    all-punctuation test."""
    _check(rules)
    if rules == "reference":
        return word in REFERENCE_PUNCTUATION or not word.strip()
    return all(c in PUNCTUATION for c in word)


def tokens_per_word(words: Sequence[str], encode: Callable[[str], list[int]]) -> list[int]:
    """How many BPE tokens each word brings, as differences of the encoded lengths of growing prefixes."""
    counts, previous = [], 0
    for i in range(len(words)):
        length = len(encode(" ".join(words[: i + 1])))
        counts.append(length - previous)
        previous = length
    return counts


@dataclass
class WordScores:
    """Per-word scores of a caption (template words removed); ``covered`` is False for words cut by truncation."""

    words: list[str]
    scores: np.ndarray
    covered: np.ndarray
    token_counts: list[int]


def word_scores(token_scores: np.ndarray, template: str, caption: str,
                encode: Callable[[str], list[int]], rules: str = "reference") -> WordScores:
    """Mean BPE score per word of ``caption``; ``token_scores`` covers template + caption (maybe truncated).

    The reference splits ``template + caption`` at once and drops ``len(template.split())`` leading words; the
    workbench splits the two apart and drops the template's own words.
    """
    if rules == "reference":
        words = split_words(template + caption, rules)
        template_words = template.split()
    else:
        template_words = split_words(template, rules)
        words = template_words + split_words(caption, rules)
    counts = tokens_per_word(words, encode)
    scores = np.zeros(len(words))
    covered = np.zeros(len(words), bool)
    start = 0
    for i, count in enumerate(counts):
        piece = token_scores[start:start + count]
        if len(piece):
            scores[i] = float(np.mean(piece))
            covered[i] = True
        start += count
    n = len(template_words)
    return WordScores(words=words[n:], scores=scores[n:], covered=covered[n:], token_counts=counts[n:])
