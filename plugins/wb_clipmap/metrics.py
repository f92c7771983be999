"""Benchmark metrics: localisation accuracy, AP for true vs foil captions, word-level precision/recall/F1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def average_precision(positive: np.ndarray, score: np.ndarray) -> float:
    """AP of ``score`` ranking the positives first; NaN when one class is missing."""
    from sklearn.metrics import average_precision_score

    positive = np.asarray(positive, bool)
    if positive.all() or not positive.any():
        return float("nan")
    return float(average_precision_score(positive, np.asarray(score, float)))


def localisation(predicted: Sequence[int | None], truth: Sequence[int]) -> float:
    """Share of foil captions whose predicted word is the swapped word."""
    if not truth:
        return float("nan")
    return float(np.mean([p is not None and p == t for p, t in zip(predicted, truth)]))


def word_prf(flags: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> dict[str, float]:
    """Micro precision, recall and F1 of flagged words against 0/1 word labels (all captions pooled)."""
    tp = fp = fn = 0
    for f, y in zip(flags, labels):
        f, y = np.asarray(f, bool), np.asarray(y, bool)
        n = min(len(f), len(y))
        f, y = f[:n], y[:n]
        tp += int((f & y).sum())
        fp += int((f & ~y).sum())
        fn += int((~f & y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
