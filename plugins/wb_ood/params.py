"""Parameter models of the OOD baselines plugin."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from workbench.api import VersionedParams

Detector = Literal["msp", "max-logit", "energy", "odin", "mahalanobis", "knn"]
ALL_DETECTORS: tuple[Detector, ...] = ("msp", "max-logit", "energy", "odin", "mahalanobis", "knn")


class PosthocParams(VersionedParams):
    """Score the digits world's ID test set and OOD sets with post-hoc detectors on a trained classifier."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Detector settings": ["odin_temperature", "odin_epsilon", "knn_k"],
                   "Advanced": ["on_bad_image", "batch_size", "aupr", "fpr95"]},
        "show_when": {"odin_temperature": {"detectors": ["odin"]}, "odin_epsilon": {"detectors": ["odin"]},
                      "knn_k": {"detectors": ["knn"]}}})

    model: str = Field("digits-cnn", description="zoo model id; its loader reads `weights` when given")
    weights: str = Field("", description="classifier weights file (.safetensors or state dict) of the zoo model's "
                                         "architecture; empty: the zoo model's own weights")
    detectors: list[Detector] = Field(list(ALL_DETECTORS), min_length=1, description="detectors to run")
    extra_ood_dirs: list[str] = Field([], description="folders of images scored as extra far-OOD sets "
                                                      "(each folder is one set, searched recursively)")
    on_bad_image: Literal["raise", "skip"] = Field("raise", description="unreadable image in a folder: stop with "
                                                                        "an error naming it, or skip and count")
    odin_temperature: float = Field(1000.0, gt=0, description="ODIN softmax temperature T")
    odin_epsilon: float = Field(0.0014, ge=0, description="ODIN input perturbation size")
    knn_k: int = Field(50, ge=1, description="KNN: distance to the k-th nearest normalised training feature")
    batch_size: int = Field(256, ge=1, le=8192)
    top_k_images: int = Field(16, ge=0, le=256, description="how many of the most OOD-looking inputs to show")
    aupr: Literal["openood", "average-precision"] = Field(
        "openood", description="AUPR-In/Out: openood = trapezoidal area under the precision-recall curve as "
                               "OpenOOD v1.5 computes it; average-precision = step-wise average precision "
                               "(scikit-learn average_precision_score)")
    fpr95: Literal["openood", "every-threshold"] = Field(
        "openood", description="FPR@95: openood = read on scikit-learn's ROC curve with collinear points dropped, "
                               "as OpenOOD v1.5 does (differs only with tied scores); every-threshold = at the "
                               "first distinct threshold reaching 95% TPR")
