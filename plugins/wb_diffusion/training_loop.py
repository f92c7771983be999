"""Pieces both base trainers share: thread count, learning-rate warmup, the loss curve result."""

from __future__ import annotations

import numpy as np
import torch

from workbench.api import Curves


def set_threads(threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)


def warmup_lr(step: int, lr: float, warmup_steps: int) -> float:
    return lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps else lr


def loss_curves(name: str, title: str, terms: list[str], losses: list[list[float]]) -> Curves:
    """``losses`` rows are [step, value of each of ``terms``]; one series per term."""
    rows = np.array(losses, dtype=np.float64)
    return Curves(name=name, title=title, x_label="step", y_label="loss",
                  series={term: np.stack([rows[:, 0], rows[:, i + 1]]) for i, term in enumerate(terms)})
