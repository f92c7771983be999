"""Running one method over a stream, batch by batch, and keeping what the results need."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from wb_tta.methods import BatchOutput
from wb_tta.streams import Stream


@dataclass
class OnlineLog:
    """Per-batch labels, predictions, method extras and seconds spent in the method."""

    labels: list[np.ndarray] = field(default_factory=list)
    preds: list[np.ndarray] = field(default_factory=list)
    extras: list[dict[str, object]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, y: np.ndarray, out: BatchOutput, seconds: float) -> None:
        self.labels.append(y)
        self.preds.append(out.probs.argmax(1))
        self.extras.append(out.extras)
        self.seconds.append(seconds)

    @property
    def batch_accuracy(self) -> np.ndarray:
        return np.array([float(np.mean(p == y)) for p, y in zip(self.preds, self.labels)])

    @property
    def cumulative_accuracy(self) -> np.ndarray:
        correct = np.cumsum([int(np.sum(p == y)) for p, y in zip(self.preds, self.labels)])
        seen = np.cumsum([len(y) for y in self.labels])
        return correct / np.maximum(seen, 1)

    @property
    def accuracy(self) -> float:
        acc = self.cumulative_accuracy
        return float(acc[-1]) if len(acc) else float("nan")

    def series(self, key: str) -> np.ndarray:
        """A per-batch float extra (e.g. ``loss``, ``intra``) as ``(2, n)``: batch index and value."""
        pts = [(i + 1, float(e[key])) for i, e in enumerate(self.extras) if key in e]
        return np.array(pts, dtype=float).T if pts else np.zeros((2, 0))


def run_online(method, stream: Stream, check_cancelled=None) -> Iterator[tuple[int, OnlineLog]]:
    """Feed ``stream`` to ``method`` batch by batch; yields ``(batch_index, log)`` after each batch."""
    log = OnlineLog()
    for i, (x, y, _) in enumerate(stream.batches()):
        if check_cancelled:
            check_cancelled()
        t0 = time.perf_counter()
        out = method.process(x)
        log.add(y, out, time.perf_counter() - t0)
        yield i, log


def run_to_end(method, stream: Stream, check_cancelled=None) -> OnlineLog:
    """Feed the whole stream and return the log."""
    log = OnlineLog()
    for _, log in run_online(method, stream, check_cancelled):  # noqa: B007 - the last log is the result
        continue
    return log
