"""OOD metrics parity with OpenOOD v1.5.

Reference: Jingkang50/OpenOOD @3c35632ee91b54b09d1f085d04f94744cece7d0b, ``openood/evaluators/metrics.py``
(``auc_and_fpr_recall``, ``fpr_recall``), run with the scikit-learn its ``poetry.lock`` pins (1.3.2 to 1.7.0).
OOD is the positive class: ``roc_curve(ood, -conf)`` (default ``drop_intermediate=True``), FPR@95 = the FPR of the
first kept ROC point with TPR >= 0.95; AUROC = ``auc(fpr, tpr)``; AUPR-In = ``auc(recall, precision)`` of
``precision_recall_curve(id, conf)``, AUPR-Out the same for ``(ood, -conf)``; ``fpr_recall`` is the ID-positive
FPR@95 read the same way on ``roc_curve(id, conf)``.

The curves are written out below from scratch in numpy (no scikit-learn) with the semantics those calls have:
one point per distinct score, cumulative true/false positives; the ROC keeps the ends and every point where the
second difference of the true- or false-positive counts is non-zero, then starts at (0, 0); the PR curve has
precision ``tp / (tp + fp)`` and recall ``tp / P`` at every distinct score plus the point (recall 0, precision 1);
areas by the trapezoid rule. Our default (``aupr=openood``, ``fpr95=openood``) is compared with it on fixed random
scores of several sizes, with continuous scores and with heavy ties.
"""

from __future__ import annotations

import numpy as np
import pytest

from wb_ood.metrics import metrics_rows, ood_metrics


def counts(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (tp, fp) after each distinct score, highest score first."""
    order = np.argsort(-score, kind="stable")
    s, p = score[order], positive[order].astype(float)
    last_of_group = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(p)[last_of_group]
    fp = (last_of_group + 1) - tp
    return tp, fp


def roc_points(positive, score):
    tp, fp = counts(positive, score)
    if len(tp) > 2:
        bend = np.r_[True, (np.diff(tp, 2) != 0) | (np.diff(fp, 2) != 0), True]
        tp, fp = tp[bend], fp[bend]
    tp, fp = np.r_[0.0, tp], np.r_[0.0, fp]
    return fp / fp[-1], tp / tp[-1]


def trapezoid(x, y):
    return float(abs(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2)))


def pr_area(positive, score):
    tp, fp = counts(positive, score)
    precision, recall = np.r_[1.0, tp / (tp + fp)], np.r_[0.0, tp / tp[-1]]
    return trapezoid(recall, precision)


def fpr_at_95(positive, score):
    fpr, tpr = roc_points(positive, score)
    return float(fpr[np.argmax(tpr >= 0.95)])


def openood(id_conf: np.ndarray, ood_conf: np.ndarray) -> dict[str, float]:
    conf = np.r_[id_conf, ood_conf]
    ood = np.r_[np.zeros(len(id_conf)), np.ones(len(ood_conf))]
    fpr, tpr = roc_points(ood, -conf)
    return {"auroc": trapezoid(fpr, tpr), "fpr95_ood_pos": fpr_at_95(ood, -conf),
            "fpr95_id_pos": fpr_at_95(1 - ood, conf), "aupr_in": pr_area(1 - ood, conf),
            "aupr_out": pr_area(ood, -conf)}


def score_sets(kind: str, n_id: int, n_ood: int, seed: int):
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(1.0, 1.0, n_id), rng.normal(0.0, 1.2, n_ood)
    if kind == "ties":  # few distinct values, as MSP saturating at 1.0 or integer-valued scores give
        return np.round(rng.normal(1.0, 1.0, n_id)), np.round(rng.normal(0.0, 1.2, n_ood))
    if kind == "saturated":  # many exact 1.0 confidences on both sides
        id_conf = np.where(rng.random(n_id) < 0.6, 1.0, rng.uniform(0.3, 1.0, n_id))
        ood_conf = np.where(rng.random(n_ood) < 0.3, 1.0, rng.uniform(0.2, 1.0, n_ood))
        return id_conf, ood_conf
    if kind == "blocks":  # every score level holds the same ID/OOD mix: long collinear runs of ROC points
        a, b = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        levels = np.arange(max(2, n_ood // a), dtype=float)
        head = np.full(max(1, n_ood // 10), -1.0)
        return np.repeat(levels, b), np.r_[head, np.repeat(levels, a)]
    return rng.integers(0, 3, n_id).astype(float), rng.integers(0, 2, n_ood).astype(float)  # "coarse"


KINDS = ["continuous", "ties", "saturated", "coarse", "blocks"]
SIZES = [(20, 20), (200, 50), (50, 300), (1000, 1000)]


def max_difference(kind, n_id, n_ood, seed, **options) -> float:
    id_conf, ood_conf = score_sets(kind, n_id, n_ood, seed)
    ours, want = ood_metrics(id_conf, ood_conf, **options), openood(id_conf, ood_conf)
    return max(abs(ours[k] - want[k]) for k in want)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_id,n_ood", SIZES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_metrics_match_openood(kind, n_id, n_ood, seed):
    assert max_difference(kind, n_id, n_ood, seed) < 1e-12


def test_hand_computed_tied_case():
    """ID {3, 2, 2, 1}, OOD {2, 1, 1, 0}: OOD-positive ROC points (0, 0), (0, .25), (.25, .75), (.75, 1), (1, 1);
    none is collinear with its neighbours, so both readings give FPR@95 = 0.75."""
    id_conf, ood_conf = np.array([3.0, 2.0, 2.0, 1.0]), np.array([2.0, 1.0, 1.0, 0.0])
    m = ood_metrics(id_conf, ood_conf)
    assert m["fpr95_ood_pos"] == pytest.approx(0.75) == openood(id_conf, ood_conf)["fpr95_ood_pos"]
    assert m["auroc"] == pytest.approx(openood(id_conf, ood_conf)["auroc"])


def test_reference_drops_collinear_roc_points_so_fpr95_moves_with_ties():
    """Confidence 0: 91 OOD; 1, 2, 3: 2 OOD + 3 ID each; 4: 3 OOD + 91 ID. The OOD-positive ROC passes
    (tp, fp) = (91, 0), (93, 3), (95, 6), (97, 9), (100, 100): the middle two are collinear and dropped, so
    OpenOOD reads FPR@95 at (97, 9) = 0.09 where the first threshold reaching 95% gives 0.06."""
    id_conf = np.r_[np.full(3, 1.0), np.full(3, 2.0), np.full(3, 3.0), np.full(91, 4.0)]
    ood_conf = np.r_[np.full(91, 0.0), np.full(2, 1.0), np.full(2, 2.0), np.full(2, 3.0), np.full(3, 4.0)]
    assert openood(id_conf, ood_conf)["fpr95_ood_pos"] == pytest.approx(0.09)
    assert ood_metrics(id_conf, ood_conf)["fpr95_ood_pos"] == pytest.approx(0.09)
    assert ood_metrics(id_conf, ood_conf, fpr95="every-threshold")["fpr95_ood_pos"] == pytest.approx(0.06)


def test_every_threshold_option_changes_fpr95_with_ties():
    diffs = []
    for kind in ("ties", "saturated", "coarse", "blocks"):
        for n_id, n_ood in SIZES:
            for seed in (0, 1, 2):
                id_conf, ood_conf = score_sets(kind, n_id, n_ood, seed)
                a = ood_metrics(id_conf, ood_conf)
                b = ood_metrics(id_conf, ood_conf, fpr95="every-threshold")
                diffs.append(max(abs(a[k] - b[k]) for k in ("fpr95_id_pos", "fpr95_ood_pos")))
    assert max(diffs) > 1e-2, max(diffs)
    id_conf, ood_conf = score_sets("continuous", 200, 50, 0)
    a, b = ood_metrics(id_conf, ood_conf), ood_metrics(id_conf, ood_conf, fpr95="every-threshold")
    assert a["fpr95_id_pos"] == b["fpr95_id_pos"] and a["fpr95_ood_pos"] == b["fpr95_ood_pos"]  # no ties: equal


def test_average_precision_option_differs_from_the_trapezoid():
    cont = max(max_difference("continuous", n, m, s, aupr="average-precision") for n, m in SIZES for s in (0, 1))
    tied = max(max_difference(k, n, m, s, aupr="average-precision") for k in ("ties", "saturated", "coarse")
               for n, m in SIZES for s in (0, 1))
    assert 1e-4 < cont < 5e-2 and tied > 1e-2, (cont, tied)
    with pytest.raises(ValueError, match="aupr"):
        ood_metrics(np.ones(3), np.zeros(3), aupr="roc")


def test_metrics_rows_pass_the_options_through():
    id_conf, ood_conf = score_sets("coarse", 200, 50, 0)
    scores = {"det": {"id": id_conf, "far": ood_conf}}
    default = metrics_rows(scores, "id", {"far": "far"})[0]
    ap = metrics_rows(scores, "id", {"far": "far"}, aupr="average-precision")[0]
    assert default[-2] == pytest.approx(openood(id_conf, ood_conf)["aupr_in"]) and ap[-2] != default[-2]
