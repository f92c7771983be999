"""CLIP4DM parity: word splitting, word scores, flagging and the most-negative choice against the authors'
computation, written out here independently from a reading of https://github.com/naver-ai/clip4dm at commit
cb9e52dd3617a824e8d7147a3e52dfda1233b21c (``src/utils.py``: ``space_tokenize``, ``tokenizer2space``,
``word_seq_to_tokens_with_score``; ``src/clip4dm.py``: ``CLIP4DM.__call__``, whose per-BPE scores are
``R[eot, 1:eot]``), and image preprocessing against the transform open_clip itself returns
(``create_model_and_transforms(...)[2]``, which CLIP4DM's ``load_model`` uses).

The BPE scores here are fixed random numbers (the attribution itself is tested in tests/clipmap); what is
compared is everything CLIP4DM does after them.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from open_clip.tokenizer import SimpleTokenizer

from wb_clipmap.scoring import flag_words
from wb_clipmap.words import split_words, word_scores

TEMPLATE = "A photo depicts "
TOKENIZER = SimpleTokenizer()

CAPTIONS = [
    "a red circle left of a blue square.",
    "A man, riding  a horse. It jumps!!",
    "the dog's ball ; a \"quoted\" word : done?",
    "tabs\tand\nnewlines stay\twith their words",
    "café naïve — emoji 🐶, numbers 3.5 and 1,000",
    "' lonely apostrophe , and ... dots !",
    "a " + "hippopotamus " * 30,  # past the 77-token context: the tail is cut inside a word
]


# --- the reference, written out --------------------------------------------------------------------------
def reference_space_words(text: str) -> list[str]:
    """Runs of characters other than space, '.' and ','; each '.' and ',' is a word of its own."""
    return re.findall(r"[^ .,]+|[.,]", text)


def reference_word_scores(bpe_scores: np.ndarray, text: str, template: str) -> list[tuple[str, float]]:
    """Per-word means via each word's own encoding; words without a score left out; template words dropped."""
    words = reference_space_words(text)
    out, at = [], 0
    for word in words:
        n = len(TOKENIZER.encode(word))
        piece = bpe_scores[at:at + n]
        at += n
        if len(piece):
            out.append((word, float(sum(piece) / len(piece))))
    return out[len(template.split()):]


def reference_threshold(word_scores_: list[tuple[str, float]], threshold: float):
    kept = [(w, s) for w, s in word_scores_ if w not in '.,!"?;:" ']
    kept = [(w, s) for w, s in kept if w.strip()]
    flagged = sorted([(f"{i}_{w}", s) for i, (w, s) in enumerate(kept) if s < threshold], key=lambda e: e[1])
    negative = sum(s for _, s in flagged) if flagged else 0
    # merge adjacent indices into spans with their mean score
    spans, current, last = [], [], -2
    for tag, score in sorted(flagged, key=lambda e: int(e[0].split("_")[0])):
        index, word = int(tag.split("_")[0]), tag.split("_", 1)[1]
        if index == last + 1:
            current.append((word, score))
        else:
            if current:
                spans.append(current)
            current = [(word, score)]
        last = index
    if current:
        spans.append(current)
    spans = [(" ".join(w for w, _ in sp), sum(s for _, s in sp) / len(sp)) for sp in spans]
    return negative, spans


def reference_most_negative(word_scores_: list[tuple[str, float]]):
    return sorted(word_scores_, key=lambda e: e[1])[0]


def _bpe_scores(text: str, seed: int) -> np.ndarray:
    n = min(len(TOKENIZER.encode(text)), 75)  # R[eot, 1:eot] after truncation to 77 tokens
    scores = np.random.default_rng(seed).normal(0, 1e-4, n)
    scores[np.random.default_rng(seed + 1).random(n) < 0.3] *= -3  # more negatives for the threshold
    return scores


# --- words ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("caption", CAPTIONS)
def test_word_splitting_matches_the_reference(caption):
    assert split_words(TEMPLATE + caption) == reference_space_words(TEMPLATE + caption)
    assert split_words(caption) == reference_space_words(caption)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("caption", CAPTIONS)
def test_word_scores_and_flags_match_the_reference(caption, seed):
    text = TEMPLATE + caption
    bpe = _bpe_scores(text, seed)
    ref = reference_word_scores(bpe, text, TEMPLATE)
    ours = word_scores(bpe, TEMPLATE, caption, TOKENIZER.encode)
    got = [(w, s) for w, s, c in zip(ours.words, ours.scores, ours.covered) if c]
    assert [w for w, _ in got] == [w for w, _ in ref]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in ref], rtol=1e-12, atol=1e-18)
    # most negative: the arg-min over every scored word, punctuation included
    lowest = flag_words(ours.words, ours.scores, "most_negative", eligible=ours.covered)
    ref_word, ref_score = reference_most_negative(ref)
    assert ours.words[lowest.predicted] == ref_word and lowest.negative == pytest.approx(ref_score, abs=1e-18)
    # threshold: flags, N and merged spans
    for epsilon in (-5e-5, -1e-4):
        flags = flag_words(ours.words, ours.scores, "threshold", epsilon, eligible=ours.covered)
        ref_negative, ref_spans = reference_threshold(ref, epsilon)
        assert flags.negative == pytest.approx(ref_negative, abs=1e-18)
        assert [s.text for s in flags.spans] == [t for t, _ in ref_spans]
        np.testing.assert_allclose([s.score for s in flags.spans], [v for _, v in ref_spans], atol=1e-18)


def test_the_reference_can_pick_punctuation_and_so_do_we():
    caption = "a red circle , a blue square ."
    text = TEMPLATE + caption
    words = reference_space_words(text)
    bpe = np.full(len(TOKENIZER.encode(text)), 1e-4)
    bpe[[i for i, w in enumerate(words) if w == ","][0]] = -1e-3  # one token per word here
    ref_word, _ = reference_most_negative(reference_word_scores(bpe, text, TEMPLATE))
    ours = word_scores(bpe, TEMPLATE, caption, TOKENIZER.encode)
    assert ref_word == "," and ours.words[flag_words(ours.words, ours.scores, "most_negative").predicted] == ","
    wb = word_scores(bpe, TEMPLATE, caption, TOKENIZER.encode, rules="workbench")
    assert wb.words[flag_words(wb.words, wb.scores, "most_negative", rules="workbench").predicted] != ","


def test_word_rules_option_changes_splitting_filtering_and_the_template_cut():
    assert split_words("a\tb c") == ["a\tb", "c"] and split_words("a\tb c", "workbench") == ["a", "b", "c"]
    words = ["x", "!!", "'", "y"]
    scores = np.array([1.0, -1.0, -1.0, 1.0]) * 1e-3
    assert flag_words(words, scores, "threshold", -5e-5).flags.tolist() == [False, True, True, False]
    assert flag_words(words, scores, "threshold", -5e-5, rules="workbench").flags.tolist() == [False] * 4
    template, caption = "A photo. It depicts ", "a cat"  # str.split counts 4 template words, the splitter 5
    bpe = np.arange(len(TOKENIZER.encode(template + caption)), dtype=float)
    assert word_scores(bpe, template, caption, TOKENIZER.encode).words == ["depicts", "a", "cat"]
    assert word_scores(bpe, template, caption, TOKENIZER.encode, rules="workbench").words == ["a", "cat"]


# --- preprocessing --------------------------------------------------------------------------------------------
def _custom_clip_dir(tmp_path):
    """The zoo's tiny CLIP with a different preprocess_cfg: 48 px, bilinear, squash, other mean/std."""
    from workbench.api import load_clip, save_clip_dir

    folder = save_clip_dir(load_clip("tiny-clip"), tmp_path / "custom")
    config = json.loads((folder / "open_clip_config.json").read_text())
    config["preprocess_cfg"] = {"size": 64, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3],
                                "interpolation": "bilinear", "resize_mode": "squash"}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("which", ["zoo", "custom"])
def test_preprocessing_is_open_clips_own_transform_on_non_square_images(which, tmp_path):
    import open_clip
    from PIL import Image

    from workbench.api import load_clip, zoo_card

    folder = zoo_card("tiny-clip").folder if which == "zoo" else _custom_clip_dir(tmp_path)
    clip = load_clip("tiny-clip") if which == "zoo" else load_clip(f"local-dir:{folder}")
    _, _, transform = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(48, 100, 3), (131, 77, 3), (64, 64, 3),
                                                                         (300, 200, 3), (20, 33, 3)]]
    for image in images:
        expected = transform(Image.fromarray(image)).unsqueeze(0)
        assert torch.equal(clip.preprocess(image), expected)
    batch = clip.preprocess(images[:2])
    assert torch.equal(batch, torch.stack([transform(Image.fromarray(i)) for i in images[:2]]))
