"""The ``ood.posthoc`` task: score the ID test set and every OOD set with the chosen detectors."""

from __future__ import annotations

import numpy as np

from wb_ood import detectors as D
from wb_ood.data import read_ood_folder
from wb_ood.metrics import METRIC_COLUMNS, metrics_rows
from wb_ood.params import PosthocParams
from workbench.api import (
    ClassifierOutputs,
    ImageGrid,
    MetricsTable,
    Progress,
    RunContext,
    ScoreSet,
    load_sample,
    load_zoo_model,
    to_uint8,
)

ID_SET = "id-test"
LOGIT_DETECTORS = {"msp": D.msp, "max-logit": D.max_logit, "energy": D.energy}


def run(params: PosthocParams, ctx: RunContext):
    world = load_sample("digits", seed=0)
    model = load_zoo_model(params.model, weights=params.weights or None)
    if model.num_classes != world.num_classes:
        raise ValueError(f"weights: the classifier has {model.num_classes} outputs but the digits world has "
                         f"{world.num_classes} classes")
    sets = {ID_SET: world.x_test, **world.ood}
    groups = dict(world.groups)
    notes = []
    for folder in params.extra_ood_dirs:
        images, skipped = read_ood_folder(folder, size=world.x_test.shape[-1], on_bad_image=params.on_bad_image)
        name = f"folder:{folder}"
        sets[name], groups[name] = images, "far"
        if skipped:
            notes.append(f"{folder}: skipped {len(skipped)} unreadable file(s)")
            for err in skipped:
                ctx.log(f"skipped {err}")
    detectors = list(params.detectors)
    if ctx.engine == "onnx" and "odin" in detectors:
        detectors.remove("odin")
        notes.append("ODIN skipped: it needs input gradients, which the ONNX backend does not give")
        ctx.log(notes[-1])
    if not detectors:
        raise ValueError("detectors: nothing left to run on the ONNX backend (ODIN needs torch)")
    engine = ClassifierOutputs(model, ctx, world.x_train, batch_size=params.batch_size)
    yield Progress(0.05, "features of the training split")
    train_logits, train_feats = engine.outputs(world.x_train)
    outputs = {}
    for i, (name, images) in enumerate(sets.items()):
        outputs[name] = engine.outputs(images)
        yield Progress(0.05 + 0.6 * (i + 1) / len(sets), f"scored {name} ({len(images)} images)")
    scores: dict[str, dict[str, np.ndarray]] = {d: {} for d in detectors}
    maha = D.Mahalanobis().fit(train_feats, world.y_train) if "mahalanobis" in detectors else None
    knn = D.KNN(params.knn_k).fit(train_feats) if "knn" in detectors else None
    for name, (logits, feats) in outputs.items():
        for det in detectors:
            if det in LOGIT_DETECTORS:
                scores[det][name] = LOGIT_DETECTORS[det](logits)
            elif det == "mahalanobis":
                scores[det][name] = maha.score(feats)
            elif det == "knn":
                scores[det][name] = knn.score(feats)
            else:
                scores[det][name] = D.odin(engine.model, sets[name], params.odin_temperature, params.odin_epsilon,
                                           params.batch_size, ctx.device)
        ctx.check_cancelled()
        yield Progress(0.65 + 0.3 * len(scores[detectors[0]]) / len(sets), f"detectors on {name}")
    id_acc = float((outputs[ID_SET][0].argmax(1) == world.y_test).mean())
    train_acc = float((train_logits.argmax(1) == world.y_train).mean())
    summary = [["ID test accuracy", id_acc], ["ID train accuracy", train_acc], ["backend", ctx.backend]]
    if engine.export is not None:
        summary.append(["ONNX max |onnx - torch| (parity check)", engine.export.worst])
    yield MetricsTable(name="summary", title="Classifier", columns=["quantity", "value"], rows=summary,
                       notes="; ".join(notes))
    yield MetricsTable(
        name="ood-metrics", title="OOD detection metrics",
        columns=["detector", "ood set", "group", *METRIC_COLUMNS],
        rows=metrics_rows(scores, ID_SET, groups, params.aupr, params.fpr95),
        notes="Scores are confidences (higher = ID). fpr95_id_pos: fraction of OOD accepted at 95% ID kept "
              "(PALM/MixOE); fpr95_ood_pos: fraction of ID rejected at 95% OOD caught (OpenOOD v1.5). "
              f"AUPR-In: ID positive; AUPR-Out: OOD positive. AUPR: {params.aupr}; FPR@95 ROC points: "
              f"{params.fpr95}.",
    )
    yield ScoreSet(name="scores", title="Detector scores (higher = more in-distribution)", scores=scores,
                   id_set=ID_SET, groups=groups,
                   thumbnails={name: np.asarray(to_uint8(images)) for name, images in sets.items()})
    if params.top_k_images:
        yield _most_ood(scores[detectors[0]], sets, detectors[0], params.top_k_images)


def _most_ood(conf: dict[str, np.ndarray], sets: dict[str, np.ndarray], detector: str, k: int) -> ImageGrid:
    """The ``k`` lowest-confidence inputs over all sets, captioned with their set and score."""
    flat = [(float(s), name, i) for name, values in conf.items() for i, s in enumerate(values)]
    flat.sort(key=lambda t: t[0])
    picks = flat[:k]
    return ImageGrid(name="most-ood", title=f"Most OOD-looking inputs ({detector})",
                     images=to_uint8(np.stack([sets[n][i] for _, n, i in picks])) if picks else [],
                     captions=[f"{n}\n{s:.3g}" for s, n, _ in picks], ncols=8)
