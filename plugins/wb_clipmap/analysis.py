"""One image-caption pair end to end: attributions, word scores, flags, CLIPScore and F-CLIPScore."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wb_clipmap.attribution import Explanation, explain, word_image_maps
from wb_clipmap.params import AttributionFields
from wb_clipmap.scoring import Flagging, Mode, clipscore, f_clipscore, flag_words
from wb_clipmap.words import WordScores, word_scores
from workbench.api import LoadedClip


@dataclass
class PairAnalysis:
    """Everything shown for one pair; ``word_maps`` holds ``(word index, unsigned, signed)`` image maps."""

    caption: str
    explanation: Explanation
    words: WordScores
    flagging: Flagging
    mode: str
    epsilon: float
    word_maps: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    rules: str = "reference"

    @property
    def cosine(self) -> float:
        return self.explanation.cosine

    @property
    def clipscore(self) -> float:
        return clipscore(self.cosine)

    @property
    def f_clipscore(self) -> float:
        return f_clipscore(self.flagging.negative, self.cosine)

    def summary(self) -> dict[str, float]:
        return {"cosine": self.cosine, "CLIPScore": self.clipscore, "F-CLIPScore": self.f_clipscore,
                "N": self.flagging.negative, "truncated": float(self.explanation.truncated)}


def words_of(clip: LoadedClip, explanation: Explanation, template: str, caption: str,
             rules: str = "reference") -> WordScores:
    return word_scores(explanation.token_scores, template, caption, clip.tokenizer.encode, rules)


def analyse(clip: LoadedClip, image: np.ndarray, caption: str, settings: AttributionFields,
            mode: Mode = "threshold", image_map: bool = True) -> PairAnalysis:
    """Attribute, aggregate to words and flag; the caption must not be empty."""
    if not caption.strip():
        raise ValueError("the caption is empty: give at least one word")
    explanation = explain(clip, image, settings.template + caption, settings.text_layers, image_map,
                          settings.image_start_layer)
    words = words_of(clip, explanation, settings.template, caption, settings.word_rules)
    flagging = flag_words(words.words, words.scores, mode, settings.epsilon, eligible=words.covered,
                          rules=settings.word_rules)
    return PairAnalysis(caption=caption, explanation=explanation, words=words, flagging=flagging, mode=mode,
                        epsilon=settings.epsilon, rules=settings.word_rules)


def add_word_maps(clip: LoadedClip, image: np.ndarray, analysis: PairAnalysis, indices: list[int],
                  settings: AttributionFields) -> None:
    """Image relevance for each chosen word, with the target ``cos(image, template + word)``."""
    if not indices:
        return
    texts = [settings.template + analysis.words.words[i] for i in indices]
    unsigned, signed = word_image_maps(clip, image, texts, settings.image_start_layer)
    analysis.word_maps = [(i, u, s) for i, u, s in zip(indices, unsigned, signed)]
