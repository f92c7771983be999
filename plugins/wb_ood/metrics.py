"""OOD metrics computed as OpenOOD v1.5 computes them. Scores are confidences: higher means more in-distribution.

Both FPR@95 conventions are reported because papers disagree:
- ``fpr95_id_pos`` (PALM, MixOE): the fraction of OOD accepted when 95% of ID is kept;
- ``fpr95_ood_pos`` (OpenOOD v1.5): the fraction of ID rejected when 95% of OOD is caught.

By default (``aupr="openood"``, ``fpr95="openood"``) the numbers are OpenOOD's (Jingkang50/OpenOOD @3c35632,
``openood/evaluators/metrics.py``): AUPR is the trapezoidal area under the precision-recall curve (scikit-learn's
``precision_recall_curve`` points, recall 0 at precision 1 included), and FPR@95 is read at the first point of
scikit-learn's ROC curve *with its collinear intermediate points dropped* whose TPR reaches 95%; with tied scores
that point can lie further along the curve than the first threshold that reaches 95%. The options
``aupr="average-precision"`` (step-wise average precision, scikit-learn's ``average_precision_score``) and
``fpr95="every-threshold"`` (every distinct threshold kept) are the workbench's earlier definitions.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

AUPR_KINDS = ("openood", "average-precision")
FPR95_KINDS = ("openood", "every-threshold")


def _fpr_at_tpr(pos: np.ndarray, neg: np.ndarray, tpr_level: float = 0.95, kind: str = "openood") -> float:
    """FPR at the first ROC point where the positives' TPR reaches ``tpr_level`` (higher score = positive)."""
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    fpr, tpr, _ = roc_curve(y, np.r_[pos, neg], drop_intermediate=kind == "openood")
    return float(fpr[np.searchsorted(tpr, tpr_level, side="left")])


def _aupr(positive: np.ndarray, scores: np.ndarray, kind: str) -> float:
    if kind == "average-precision":
        return float(average_precision_score(positive, scores))
    precision, recall, _ = precision_recall_curve(positive, scores)
    return float(auc(recall, precision))


def ood_metrics(id_conf: np.ndarray, ood_conf: np.ndarray, aupr: str = "openood",
                fpr95: str = "openood") -> dict[str, float]:
    """AUROC, both FPR@95 definitions, AUPR-In (ID positive) and AUPR-Out (OOD positive)."""
    if aupr not in AUPR_KINDS:
        raise ValueError(f"aupr must be one of {', '.join(AUPR_KINDS)}, got {aupr!r}")
    if fpr95 not in FPR95_KINDS:
        raise ValueError(f"fpr95 must be one of {', '.join(FPR95_KINDS)}, got {fpr95!r}")
    id_conf, ood_conf = np.asarray(id_conf, float), np.asarray(ood_conf, float)
    if not len(id_conf) or not len(ood_conf):
        raise ValueError("ood_metrics needs at least one ID and one OOD score")
    y_id = np.r_[np.ones(len(id_conf)), np.zeros(len(ood_conf))]
    scores = np.r_[id_conf, ood_conf]
    return {
        "auroc": float(roc_auc_score(y_id, scores)),
        "fpr95_id_pos": _fpr_at_tpr(id_conf, ood_conf, kind=fpr95),
        "fpr95_ood_pos": _fpr_at_tpr(-ood_conf, -id_conf, kind=fpr95),
        "aupr_in": _aupr(y_id, scores, aupr),
        "aupr_out": _aupr(1 - y_id, -scores, aupr),
    }


METRIC_COLUMNS = ("auroc", "fpr95_id_pos", "fpr95_ood_pos", "aupr_in", "aupr_out")


def metrics_rows(scores: dict[str, dict[str, np.ndarray]], id_set: str, groups: dict[str, str],
                 aupr: str = "openood", fpr95: str = "openood") -> list[list]:
    """Rows ``[detector, ood set, group, *METRIC_COLUMNS]`` per set, then near/far means per detector."""
    rows = []
    for det, sets in scores.items():
        per_group: dict[str, list[dict[str, float]]] = {}
        for name, values in sets.items():
            if name == id_set:
                continue
            m = ood_metrics(sets[id_set], values, aupr, fpr95)
            group = groups.get(name, "far")
            per_group.setdefault(group, []).append(m)
            rows.append([det, name, group, *(m[c] for c in METRIC_COLUMNS)])
        for group in ("near", "far"):
            if per_group.get(group):
                mean = {c: float(np.mean([m[c] for m in per_group[group]])) for c in METRIC_COLUMNS}
                rows.append([det, f"{group} mean", group, *(mean[c] for c in METRIC_COLUMNS)])
    return rows
