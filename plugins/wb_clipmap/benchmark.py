"""Benchmark tables over scored pairs with ground truth: localisation, AP (true vs foil), word P/R/F1.

Localisation uses the most-negative word (CLIP4DM's FOIL protocol); chance is 1 / (number of words that can
be flagged). AP is reported with the true caption as the positive class (higher score = aligned) and with the
foil as the positive class (lower score = foil), for CLIPScore and for F-CLIPScore in both modes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wb_clipmap.analysis import PairAnalysis
from wb_clipmap.metrics import average_precision, localisation, word_prf
from wb_clipmap.readers import Pair
from wb_clipmap.scoring import Flagging, clipscore, f_clipscore, flag_words, flaggable
from workbench.api import MetricsTable, ScoreSet


@dataclass
class Scored:
    """A pair with its word scores and both flaggings (threshold and most-negative)."""

    pair: Pair
    words: list[str]
    scores: np.ndarray
    eligible: np.ndarray
    cosine: float
    threshold: Flagging
    lowest: Flagging
    image_signed: np.ndarray | None = None

    @property
    def clipscore(self) -> float:
        return clipscore(self.cosine)

    def f_clipscore(self, mode: str) -> float:
        flagging = self.threshold if mode == "threshold" else self.lowest
        return f_clipscore(flagging.negative, self.cosine)


SCORES = {"CLIPScore": lambda s: s.clipscore,
          "F-CLIPScore (threshold)": lambda s: s.f_clipscore("threshold"),
          "F-CLIPScore (most negative)": lambda s: s.f_clipscore("most_negative")}


def scored_from(pair: Pair, analysis: PairAnalysis) -> Scored:
    """Both flaggings of an analysed pair (the analysis brings one; the other mode is cheap to add)."""
    words = analysis.words
    other = "most_negative" if analysis.mode == "threshold" else "threshold"
    flags = {analysis.mode: analysis.flagging,
             other: flag_words(words.words, words.scores, other, analysis.epsilon, eligible=words.covered,
                               rules=analysis.rules)}
    return Scored(pair=pair, words=words.words, scores=words.scores,
                  eligible=flaggable(words.words, words.covered, "most_negative", analysis.rules),
                  cosine=analysis.cosine, threshold=flags["threshold"], lowest=flags["most_negative"],
                  image_signed=analysis.explanation.image_signed)


def localisation_table(scored: list[Scored]) -> MetricsTable | None:
    foils = [s for s in scored if s.pair.is_foil and s.pair.foil_index is not None]
    if not foils:
        return None
    groups = sorted({s.pair.group for s in foils}) + ["all"]
    rows = []
    for group in groups:
        items = [s for s in foils if group in ("all", s.pair.group)]
        truth = [s.pair.foil_index for s in items]
        rows.append([group, len(items), localisation([s.lowest.predicted for s in items], truth),
                     float(np.mean([1.0 / max(int(s.eligible.sum()), 1) for s in items])),
                     localisation([s.threshold.predicted for s in items], truth),
                     float(np.mean([s.threshold.flags.any() for s in items]))])
    return MetricsTable(name="localisation", title="Localisation of the misaligned word",
                        columns=["foil type", "n", "LA most-negative", "chance (1/words)", "LA threshold",
                                 "share flagged (threshold)"], rows=rows,
                        notes="LA: share of foil captions whose predicted word is the swapped word; threshold mode "
                              "predicts the most negative flagged word (none flagged counts as a miss)")


def ap_table(scored: list[Scored]) -> MetricsTable | None:
    true = [s for s in scored if s.pair.is_foil is False]
    foils = [s for s in scored if s.pair.is_foil]
    if not true or not foils:
        return None
    groups = ["all"] + sorted({s.pair.group for s in foils})
    rows = []
    for name, fn in SCORES.items():
        for positive in ("true", "foil"):
            row: list = [name, f"{positive} caption"]
            for group in groups:
                items = true + [s for s in foils if group in ("all", s.pair.group)]
                is_true = np.array([not s.pair.is_foil for s in items])
                score = np.array([fn(s) for s in items])
                row.append(average_precision(is_true, score) if positive == "true"
                           else average_precision(~is_true, -score))
            rows.append(row)
    return MetricsTable(name="ap", title="AP: true vs foil captions", columns=["score", "positive class", *groups],
                        rows=rows, notes=f"{len(true)} true captions; foils per column as grouped")


def prf_table(scored: list[Scored]) -> MetricsTable | None:
    labelled = [(s, s.pair.labels()) for s in scored]
    labelled = [(s, y) for s, y in labelled if y is not None]
    if not labelled:
        return None
    rows = []
    for mode in ("threshold", "most_negative"):
        m = word_prf([(s.threshold if mode == "threshold" else s.lowest).flags for s, _ in labelled],
                     [y for _, y in labelled])
        rows.append([mode, m["precision"], m["recall"], m["f1"], m["tp"], m["fp"], m["fn"]])
    return MetricsTable(name="word-prf", title="Word-level precision / recall / F1 of flagged words",
                        columns=["mode", "precision", "recall", "F1", "TP", "FP", "FN"], rows=rows,
                        notes=f"micro-averaged over {len(labelled)} labelled captions (true captions have no "
                              "misaligned word)")


def score_set(scored: list[Scored]) -> ScoreSet | None:
    if not any(s.pair.is_foil is False for s in scored) or not any(s.pair.is_foil for s in scored):
        return None
    sets = ["true"] + sorted({f"foil-{s.pair.group}" if s.pair.group else "foil" for s in scored if s.pair.is_foil})

    def set_of(s: Scored) -> str:
        return "true" if not s.pair.is_foil else (f"foil-{s.pair.group}" if s.pair.group else "foil")

    scores = {name: {k: np.array([fn(s) for s in scored if set_of(s) == k]) for k in sets}
              for name, fn in SCORES.items()}
    return ScoreSet(name="true-vs-foil", title="True vs foil captions (higher = aligned)", scores=scores,
                    id_set="true")


def _cell_centres(grid: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres ``(x, y)`` of the map cells over the centre square of an image of ``size`` (h, w)."""
    h, w = size
    side = min(h, w)
    top, left = (h - side) / 2, (w - side) / 2
    ys = top + (np.arange(grid[0]) + 0.5) * side / grid[0]
    xs = left + (np.arange(grid[1]) + 0.5) * side / grid[1]
    return np.meshgrid(xs, ys)


def pointing_table(scored: list[Scored]) -> MetricsTable | None:
    """Pointing game of the signed image map: is its most negative cell inside the misaligned object's box?

    Chance is the share of cells inside the box.
    """
    items = [s for s in scored if s.pair.region is not None and s.image_signed is not None
             and s.pair.image is not None]
    if not items:
        return None
    hits: dict[str, list[bool]] = {}
    chance: dict[str, list[float]] = {}
    for s in items:
        x0, y0, x1, y1 = s.pair.region
        xs, ys = _cell_centres(s.image_signed.shape, s.pair.image.shape[:2])
        inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
        lowest = np.unravel_index(np.argmin(s.image_signed), s.image_signed.shape)
        for group in (s.pair.group, "all"):
            hits.setdefault(group, []).append(bool(inside[lowest]))
            chance.setdefault(group, []).append(float(inside.mean()))
    rows = [[g, len(hits[g]), float(np.mean(hits[g])), float(np.mean(chance[g]))]
            for g in sorted(hits, key=lambda g: (g == "all", g))]
    return MetricsTable(name="pointing", title="Signed image map: most negative cell in the misaligned object",
                        columns=["foil type", "n", "pointing accuracy", "chance (box share)"], rows=rows)


def benchmark_results(scored: list[Scored]) -> list:
    """Every table the ground truth allows, plus the score distributions."""
    tables = (localisation_table(scored), ap_table(scored), prf_table(scored), pointing_table(scored),
              score_set(scored))
    return [r for r in tables if r]
