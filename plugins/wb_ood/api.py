"""The OOD baselines plugin's public library: post-hoc detectors and OpenOOD metrics.

Other plugins (the trainable detectors) score with these so trained and post-hoc detectors are measured
identically. They import this module only, and their tasks declare ``requires=("ood-baselines",)`` so that
denying this plugin disables them with a message instead of a failed import.
"""

from wb_ood.detectors import KNN, Mahalanobis, energy, l2_normalise, max_logit, msp, odin
from wb_ood.metrics import METRIC_COLUMNS, metrics_rows, ood_metrics

__all__ = ["KNN", "METRIC_COLUMNS", "Mahalanobis", "energy", "l2_normalise", "max_logit", "metrics_rows", "msp",
           "odin", "ood_metrics"]
