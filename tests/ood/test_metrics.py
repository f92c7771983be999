"""Known answers for the OOD metrics (both FPR@95 conventions) and the detectors."""

from __future__ import annotations

import numpy as np
import pytest

from wb_ood import detectors as D
from wb_ood.metrics import ood_metrics


def test_perfect_separation():
    m = ood_metrics(np.array([2.0, 3.0, 4.0]), np.array([-1.0, 0.0, 1.0]))
    assert m["auroc"] == 1.0 and m["fpr95_id_pos"] == 0.0 and m["fpr95_ood_pos"] == 0.0
    assert m["aupr_in"] == 1.0 and m["aupr_out"] == 1.0


def test_reversed_scores_give_auroc_zero_and_full_fpr():
    m = ood_metrics(np.array([-1.0, 0.0]), np.array([2.0, 3.0]))
    assert m["auroc"] == 0.0 and m["fpr95_id_pos"] == 1.0 and m["fpr95_ood_pos"] == 1.0


def test_identical_distributions_give_chance():
    rng = np.random.default_rng(0)
    m = ood_metrics(rng.normal(size=20000), rng.normal(size=20000))
    assert m["auroc"] == pytest.approx(0.5, abs=0.01)
    assert m["fpr95_id_pos"] == pytest.approx(0.95, abs=0.01)


def test_fpr_conventions_differ_as_documented():
    """ID at 0..99; OOD mostly low with a tail overlapping ID: the two FPR@95 definitions disagree."""
    id_conf = np.arange(100, dtype=float)
    ood_conf = np.r_[np.full(90, -10.0), np.arange(10, dtype=float) * 10]
    m = ood_metrics(id_conf, ood_conf)
    # keeping 95% of ID means threshold 5: OOD values >= 5 are 10..90 -> 9 of 100 accepted
    assert m["fpr95_id_pos"] == pytest.approx(0.09)
    # catching 95% of OOD (lowest 95) needs threshold above 40: ID values <= 40 are 41 of 100 rejected
    assert m["fpr95_ood_pos"] == pytest.approx(0.41)


def test_logit_detectors_on_known_logits():
    logits = np.array([[10.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert D.msp(logits)[1] == pytest.approx(1 / 3)
    assert D.max_logit(logits).tolist() == [10.0, 1.0]
    assert D.energy(logits)[1] == pytest.approx(1 + np.log(3))


def test_mahalanobis_separates_off_manifold_and_is_scale_aware():
    rng = np.random.default_rng(0)
    means = np.array([[0, 0, 0], [5, 0, 0]], float)
    labels = rng.integers(0, 2, 2000)
    feats = means[labels] + rng.normal(scale=[1.0, 0.1, 0.1], size=(2000, 3))
    maha = D.Mahalanobis().fit(feats, labels)
    id_s = maha.score(means[[0, 1]] + [0.5, 0, 0])
    ood_s = maha.score(np.array([[0, 1.0, 0], [5, 0, 1.0]]))
    assert id_s.min() > ood_s.max()


def test_knn_score_is_minus_kth_distance():
    bank = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    knn = D.KNN(k=2).fit(bank)
    s = knn.score(np.array([[1.0, 0.0]]))
    assert s[0] == pytest.approx(-np.sqrt(2), abs=1e-5)
    with pytest.raises(ValueError, match="exceeds"):
        D.KNN(k=10).fit(bank)
