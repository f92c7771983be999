"""OpenOOD-compatible OOD metrics. Scores are confidences: higher means more in-distribution.

Both FPR@95 conventions are reported because papers disagree:
- ``fpr95_id_pos`` (PALM, MixOE): the fraction of OOD accepted when 95% of ID is kept;
- ``fpr95_ood_pos`` (OpenOOD v1.5): the fraction of ID rejected when 95% of OOD is caught.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def _fpr_at_tpr(pos: np.ndarray, neg: np.ndarray, tpr_level: float = 0.95) -> float:
    """FPR at the first threshold where the positives' TPR reaches ``tpr_level`` (higher score = positive)."""
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    fpr, tpr, _ = roc_curve(y, np.r_[pos, neg], drop_intermediate=False)
    return float(fpr[np.searchsorted(tpr, tpr_level, side="left")])


def ood_metrics(id_conf: np.ndarray, ood_conf: np.ndarray) -> dict[str, float]:
    """AUROC, both FPR@95 definitions, AUPR-In (ID positive) and AUPR-Out (OOD positive)."""
    id_conf, ood_conf = np.asarray(id_conf, float), np.asarray(ood_conf, float)
    if not len(id_conf) or not len(ood_conf):
        raise ValueError("ood_metrics needs at least one ID and one OOD score")
    y_id = np.r_[np.ones(len(id_conf)), np.zeros(len(ood_conf))]
    scores = np.r_[id_conf, ood_conf]
    return {
        "auroc": float(roc_auc_score(y_id, scores)),
        "fpr95_id_pos": _fpr_at_tpr(id_conf, ood_conf),
        "fpr95_ood_pos": _fpr_at_tpr(-ood_conf, -id_conf),
        "aupr_in": float(average_precision_score(y_id, scores)),
        "aupr_out": float(average_precision_score(1 - y_id, -scores)),
    }


METRIC_COLUMNS = ("auroc", "fpr95_id_pos", "fpr95_ood_pos", "aupr_in", "aupr_out")


def metrics_rows(scores: dict[str, dict[str, np.ndarray]], id_set: str, groups: dict[str, str]) -> list[list]:
    """Rows ``[detector, ood set, group, *METRIC_COLUMNS]`` per set, then near/far means per detector."""
    rows = []
    for det, sets in scores.items():
        per_group: dict[str, list[dict[str, float]]] = {}
        for name, values in sets.items():
            if name == id_set:
                continue
            m = ood_metrics(sets[id_set], values)
            group = groups.get(name, "far")
            per_group.setdefault(group, []).append(m)
            rows.append([det, name, group, *(m[c] for c in METRIC_COLUMNS)])
        for group in ("near", "far"):
            if per_group.get(group):
                mean = {c: float(np.mean([m[c] for m in per_group[group]])) for c in METRIC_COLUMNS}
                rows.append([det, f"{group} mean", group, *(mean[c] for c in METRIC_COLUMNS)])
    return rows
