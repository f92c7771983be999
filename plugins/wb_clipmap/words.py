"""From BPE tokens to words, the way CLIP4DM splits captions: words on spaces, ``.`` and ``,`` on their own.

A word's score is the mean of its BPE tokens' scores. Counting each word's BPE tokens by prefix differences
keeps the mapping exact for any text the CLIP tokenizer accepts (ftfy fixes, lower-casing, punctuation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

PUNCTUATION = set('.,!"?;:\' ')


def split_words(text: str) -> list[str]:
    """Words on spaces, with ``.`` and ``,`` as separate words (CLIP4DM's ``space_tokenize``)."""
    words: list[str] = []
    current = ""
    for char in text:
        if char.isspace() or char in ".,":
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


def is_punctuation(word: str) -> bool:
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
                encode: Callable[[str], list[int]]) -> WordScores:
    """Mean BPE score per word of ``caption``; ``token_scores`` covers template + caption (maybe truncated)."""
    template_words = split_words(template)
    words = template_words + split_words(caption)
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
