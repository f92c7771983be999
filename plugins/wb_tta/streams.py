"""Test streams: a labelled image set, a corruption (covariate shift) and an ordering (label shift) in batches.

Orderings: ``iid`` (a random permutation), ``class-sorted`` (all of one class, then the next; shuffled within a
class), ``dirichlet`` (the NOTE protocol: each class spreads its samples over the stream's time slots with
proportions drawn from Dir(alpha); small alpha approaches class-sorted, large alpha approaches i.i.d.).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from wb_tta.corruptions import corrupt

ORDERS = ("iid", "class-sorted", "dirichlet")


@dataclass
class Stream:
    """Corrupted images in stream order, their labels, and where each batch starts and ends."""

    x: np.ndarray
    y: np.ndarray
    batch_size: int
    source_index: np.ndarray
    description: str = ""
    meta: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(np.ceil(len(self.y) / self.batch_size))

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(x, y, positions)`` per batch, positions being indices into the stream."""
        for start in range(0, len(self.y), self.batch_size):
            pos = np.arange(start, min(start + self.batch_size, len(self.y)))
            yield self.x[pos], self.y[pos], pos


def order_indices(y: np.ndarray, order: str, batch_size: int, rng: np.random.Generator,
                  dirichlet_alpha: float = 1.0) -> np.ndarray:
    """A permutation of ``range(len(y))`` realising ``order``."""
    n = len(y)
    if order == "iid":
        return rng.permutation(n)
    classes = np.unique(y)
    if order == "class-sorted":
        return np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in rng.permutation(classes)])
    if order == "dirichlet":
        if dirichlet_alpha <= 0:
            raise ValueError(f"dirichlet_alpha must be > 0, got {dirichlet_alpha}")
        slots: list[list[int]] = [[] for _ in range(max(1, int(np.ceil(n / batch_size))))]
        for c in classes:
            members = rng.permutation(np.flatnonzero(y == c))
            shares = rng.dirichlet(np.full(len(slots), dirichlet_alpha))
            cuts = np.round(np.cumsum(shares) * len(members)).astype(int)[:-1]
            for slot, part in zip(slots, np.split(members, cuts)):
                slot.extend(part.tolist())
        return np.concatenate([rng.permutation(np.asarray(s, dtype=np.int64)) for s in slots if s])
    raise ValueError(f"unknown stream order {order!r}; known: {', '.join(ORDERS)}")


def build_stream(x: np.ndarray, y: np.ndarray, corruption: str = "none", severity: int = 3, order: str = "iid",
                 batch_size: int = 64, dirichlet_alpha: float = 1.0, passes: int = 1, seed: int = 0,
                 ladder: str = "digits") -> Stream:
    """Corrupt ``x`` and order it into a stream. Each of ``passes`` passes draws fresh corruption noise and order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"images and labels disagree or are empty ({len(x)} images, {len(y)} labels)")
    rng = np.random.default_rng(seed)
    xs, ys, idx = [], [], []
    for p in range(passes):
        perm = order_indices(y, order, batch_size, rng, dirichlet_alpha)
        xs.append(corrupt(x[perm], corruption, severity, seed=seed * 1000 + p, ladder=ladder))
        ys.append(y[perm])
        idx.append(perm)
    what = "clean" if corruption == "none" else f"{corruption} s{severity}"
    return Stream(x=np.concatenate(xs), y=np.concatenate(ys).astype(np.int64), batch_size=batch_size,
                  source_index=np.concatenate(idx), description=f"{what}, {order}, batch {batch_size}",
                  meta={"corruption": corruption, "severity": severity, "order": order, "passes": passes,
                        "dirichlet_alpha": dirichlet_alpha, "ladder": ladder})
