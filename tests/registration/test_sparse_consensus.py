"""The consensus stages' sparse shortcuts give exactly the dense results: VBReg's voting keeps the Wilson bound only
where votes fell (the hypotheses equal those of the dense bound over every match, ties and the reference's
self-votes included), and SC2-PCR's second-order counts sum picked rows instead of a dense product."""

import numpy as np
import pytest
import torch

from wb_registration.consensus import indicator_product
from wb_registration.vbreg import WILSON_Z, _top_k_indices, _top_k_ranked, vote


def _dense_vote(voters, seeds, kappa, exclude_seed):
    n = voters[0].shape[1]
    k = min(kappa - 1, n - 1 if exclude_seed else n)
    idx = torch.from_numpy(np.asarray(seeds, dtype=np.int64))
    rows = torch.arange(len(seeds))
    counts = torch.zeros((len(seeds), n))
    best = None
    z = WILSON_Z
    for i, voter in enumerate(voters, start=1):
        scores = torch.from_numpy(np.ascontiguousarray(voter, dtype=np.float32))[idx]
        scores[rows, idx] = -torch.inf if exclude_seed else 0.0
        order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
        counts.scatter_add_(1, order, torch.ones((len(seeds), k)))
        p_hat = counts / i
        wilson = (p_hat + z ** 2 / (2.0 * i) - z * torch.sqrt(p_hat * (1.0 - p_hat) / i + z ** 2 / (4 * i ** 2))) \
            / (1.0 + z ** 2 / i)
        best = wilson if best is None else torch.maximum(best, wilson)
    if exclude_seed:
        best[rows, idx] = -torch.inf
    return np.c_[seeds, torch.sort(best, dim=1, descending=True, stable=True).indices[:, :k].numpy()]


@pytest.mark.parametrize("exclude_seed", [False, True])
@pytest.mark.parametrize("levels", [None, 4])
def test_sparse_voting_equals_the_dense_wilson_bound(exclude_seed, levels):
    rng = np.random.default_rng(3)
    n = 120
    voters = []
    for _ in range(6):
        v = rng.normal(size=(n, n)).astype(np.float32)
        if levels:  # few distinct values: ties at the k-th place in most rows
            v = np.round(v * levels / 3).astype(np.float32)
        voters.append(v)
    seeds = rng.choice(n, 40, replace=False)
    np.testing.assert_array_equal(vote([v[seeds] for v in voters], seeds, 12, exclude_seed),
                                  _dense_vote(voters, seeds, 12, exclude_seed))


def test_top_k_breaks_ties_at_the_kth_value_towards_the_lower_index():
    scores = torch.tensor([[1.0, 3.0, 2.0, 2.0, 2.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    assert _top_k_indices(scores, 3).sort(dim=1).values.tolist() == [[1, 2, 3], [0, 1, 2]]


def test_indicator_product_equals_the_dense_product():
    rng = np.random.default_rng(0)
    graph = (rng.random((300, 300)) < 0.03).astype(np.float32)
    rows = graph[rng.choice(300, 60, replace=False)]
    rows[0] = 0.0  # a row with no ones
    np.testing.assert_array_equal(indicator_product(rows, graph), rows @ graph)


@pytest.mark.parametrize("levels", [None, 3])
def test_ranked_top_k_is_the_head_of_a_stable_descending_sort(levels):
    rng = np.random.default_rng(5)
    scores = torch.from_numpy(rng.normal(size=(50, 200)).astype(np.float32))
    if levels:  # many exact ties, with -0.0 among the zeros
        scores = torch.round(scores * levels) / levels
        scores[:, ::7] = -0.0
    expected = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :12]
    assert torch.equal(_top_k_ranked(scores, 12), expected)
