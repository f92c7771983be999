"""BPE tokens to words with the real CLIP tokenizer (open_clip's SimpleTokenizer, shipped in the wheel)."""

from __future__ import annotations

import numpy as np

from wb_clipmap.words import split_words, tokens_per_word, word_scores


def test_split_words_separates_dots_and_commas():
    assert split_words("A man, riding  a horse.") == ["A", "man", ",", "riding", "a", "horse", "."]


def test_token_counts_cover_the_whole_text(tiny_clip):
    encode = tiny_clip.tokenizer.encode
    text = "A photo depicts an unbelievably photogenic hippopotamus, eating 3.5 watermelons."
    counts = tokens_per_word(split_words(text), encode)
    assert sum(counts) == len(encode(text)) and min(counts) >= 1 and max(counts) > 1


def test_word_scores_are_means_of_their_tokens_without_the_template(tiny_clip):
    encode = tiny_clip.tokenizer.encode
    template, caption = "A photo depicts ", "a hippopotamus eating"
    n = len(encode(template + caption))
    tokens = np.arange(n, dtype=float)
    ws = word_scores(tokens, template, caption, encode)
    assert ws.words == ["a", "hippopotamus", "eating"]
    k = ws.token_counts[1]
    assert ws.scores[1] == np.mean(tokens[4:4 + k]) and ws.covered.all()


def test_words_past_a_truncation_are_not_covered(tiny_clip):
    encode = tiny_clip.tokenizer.encode
    caption = "red " * 100
    ws = word_scores(np.ones(75), "A photo depicts ", caption.strip(), encode)
    assert ws.covered.sum() == 72 and not ws.covered[-1]
