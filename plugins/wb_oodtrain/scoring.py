"""Scores of a trained network on the ID test split and every OOD set, by any of the detectors.

Logits and features come from the host's ClassifierOutputs (torch or the cached, parity-checked ONNX export), and
the detectors and metrics are the OOD baselines plugin's public library (``wb_ood.api``), so trained and post-hoc
detectors are measured identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import wb_ood.api as D
from wb_oodtrain.ascood import i_odin
from wb_oodtrain.data import OODData
from workbench.api import ClassifierOutputs, ExportReport, RunContext

ID_SET = "id-test"
GRADIENT_DETECTORS = ("odin", "i-odin")
DEFAULT_DETECTOR = {"ce": "msp", "mixoe": "msp", "palm": "mahalanobis-norm"}


@dataclass
class Scored:
    """Scores ``[detector][set]``, ID test accuracy and the ONNX parity report (None on torch)."""

    scores: dict[str, dict[str, np.ndarray]]
    accuracy: float
    export: ExportReport | None
    skipped: list[str]


def _ssd_plus(train: np.ndarray):
    """PALM's official score: L2-normalise, standardise with the train statistics, one class-agnostic Gaussian."""
    train = D.l2_normalise(train)
    mu, sd = train.mean(0), train.std(0) + 1e-8
    gauss = D.Mahalanobis().fit((train - mu) / sd, np.zeros(len(train), np.int64))
    return lambda f: gauss.score((D.l2_normalise(f) - mu) / sd)


def score_network(net, data: OODData, detectors: list[str], ctx: RunContext, *, batch_size: int = 256,
                  knn_k: int = 50, odin_temperature: float = 1000.0, odin_epsilon: float = 0.0014) -> Scored:
    """Run ``detectors`` (no 'auto' here) on ``net``; gradient detectors are skipped on ONNX and listed."""
    skipped = [d for d in detectors if d in GRADIENT_DETECTORS and ctx.engine == "onnx"]
    detectors = [d for d in detectors if d not in skipped]
    engine = ClassifierOutputs(net, ctx, data.x_train, batch_size=batch_size)
    sets = {ID_SET: data.x_test, **data.ood}
    outputs = {name: engine.outputs(images) for name, images in sets.items()}
    needs_train = {"mahalanobis", "mahalanobis-norm", "ssd+", "knn"} & set(detectors)
    fitted = {}
    if needs_train:
        _, train_feats = engine.outputs(data.x_train)
        if "mahalanobis" in detectors:
            fitted["mahalanobis"] = D.Mahalanobis().fit(train_feats, data.y_train).score
        if "mahalanobis-norm" in detectors:
            maha = D.Mahalanobis().fit(D.l2_normalise(train_feats), data.y_train)
            fitted["mahalanobis-norm"] = lambda f, m=maha: m.score(D.l2_normalise(f))
        if "ssd+" in detectors:
            fitted["ssd+"] = _ssd_plus(train_feats)
        if "knn" in detectors:
            fitted["knn"] = D.KNN(min(knn_k, len(train_feats))).fit(train_feats).score
    logit_fns = {"msp": D.msp, "max-logit": D.max_logit, "energy": D.energy}
    scores: dict[str, dict[str, np.ndarray]] = {d: {} for d in detectors}
    for name, (logits, feats) in outputs.items():
        for det in detectors:
            if det in logit_fns:
                scores[det][name] = logit_fns[det](logits)
            elif det in fitted:
                scores[det][name] = fitted[det](feats)
            elif det == "odin":
                scores[det][name] = D.odin(engine.model, sets[name], odin_temperature, odin_epsilon, batch_size,
                                           ctx.device)
            else:
                scores[det][name] = i_odin(engine.model, sets[name], odin_temperature, odin_epsilon, batch_size,
                                           ctx.device)
        ctx.check_cancelled()
    accuracy = float((outputs[ID_SET][0].argmax(1) == data.y_test).mean())
    return Scored(scores, accuracy, engine.export, skipped)


def group_means(conf: dict[str, np.ndarray], groups: dict[str, str]) -> dict[str, float]:
    """``near_auroc``, ``near_fpr95``, ``far_auroc``, ``far_fpr95`` (FPR: OOD accepted at 95% ID kept)."""
    out: dict[str, float] = {}
    for group in ("near", "far"):
        metrics = [D.ood_metrics(conf[ID_SET], v) for k, v in conf.items() if k != ID_SET and groups.get(k) == group]
        if metrics:
            out[f"{group}_auroc"] = float(np.mean([m["auroc"] for m in metrics]))
            out[f"{group}_fpr95"] = float(np.mean([m["fpr95_id_pos"] for m in metrics]))
            out[f"{group}_fpr95_ood_pos"] = float(np.mean([m["fpr95_ood_pos"] for m in metrics]))
    return out
