"""Corruptions (shape, range, growing damage with severity, determinism) and stream orderings."""

from __future__ import annotations

import numpy as np
import pytest

from wb_tta.corruptions import CORRUPTIONS, corrupt
from wb_tta.streams import build_stream, order_indices


@pytest.fixture(scope="module")
def digits():
    from wb_digits.world import load_digits_world

    world = load_digits_world(seed=0)
    return world.x_test[:60], world.y_test[:60]


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
@pytest.mark.parametrize("ladder", ["digits", "cifar10c"])
def test_corruption_shape_range_determinism(digits, name, ladder):
    x, _ = digits
    out = corrupt(x, name, 3, seed=1, ladder=ladder)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(out, corrupt(x, name, 3, seed=1, ladder=ladder))


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_damage_grows_with_severity(digits, name):
    x, _ = digits
    damage = [float(np.abs(corrupt(x, name, s, seed=0) - x).mean()) for s in (1, 3, 5)]
    assert damage[0] > 0
    assert damage[0] < damage[2] and damage[1] <= damage[2] * 1.05


def test_bad_corruption_arguments_are_refused(digits):
    x, _ = digits
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(x, "fog", 3)
    with pytest.raises(ValueError, match="severity must be 1-5"):
        corrupt(x, "contrast", 6)
    with pytest.raises(ValueError, match=r"\(n, c, h, w\)"):
        corrupt(x[:, 0], "contrast", 3)


def _purity(y, order, batch=16, alpha=0.1, seed=0):
    idx = order_indices(y, order, batch, np.random.default_rng(seed), alpha)
    assert sorted(idx.tolist()) == list(range(len(y)))
    batches = [y[idx][i:i + batch] for i in range(0, len(y), batch)]
    return float(np.mean([np.bincount(b).max() / len(b) for b in batches]))


def test_orders_shape_the_label_distribution_of_batches():
    y = np.repeat(np.arange(6), 50)
    iid, sorted_, dir_low = _purity(y, "iid"), _purity(y, "class-sorted"), _purity(y, "dirichlet", alpha=0.05)
    dir_high = _purity(y, "dirichlet", alpha=100.0)
    assert sorted_ > 0.9 and iid < 0.5
    assert dir_low > dir_high + 0.2 and dir_high < 0.5


def test_stream_passes_batches_and_labels(digits):
    x, y = digits
    stream = build_stream(x, y, "shot_noise", 2, "iid", batch_size=16, passes=2, seed=3)
    assert len(stream.y) == 120 and len(stream) == 8
    sizes = [len(b[1]) for b in stream.batches()]
    assert sizes[-1] == 120 - 16 * 7 and sum(sizes) == 120
    np.testing.assert_array_equal(stream.y, y[stream.source_index])
    with pytest.raises(ValueError, match="batch_size"):
        build_stream(x, y, batch_size=0)
