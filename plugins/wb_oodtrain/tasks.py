"""The training tasks ``ood.train-ce|mixoe|palm|ascood``: data, network, the shared loop, views, weights, card."""

from __future__ import annotations

import torch

from wb_ood.api import METRIC_COLUMNS, metrics_rows
from wb_oodtrain import views
from wb_oodtrain.ascood import ASCOODMethod, alpha_at
from wb_oodtrain.ce import CEMethod
from wb_oodtrain.checkpoints import load_model, save_model
from wb_oodtrain.data import OODData, count_shared, load_data, load_outliers
from wb_oodtrain.mixoe import MixOEMethod
from wb_oodtrain.network import OODNet, build_network, load_backbone_weights
from wb_oodtrain.palm import PALMMethod
from wb_oodtrain.params import ASCOODParams, CEParams, MixOEParams, PALMParams, TrainParams
from wb_oodtrain.scoring import DEFAULT_DETECTOR, ID_SET, group_means, score_network
from wb_oodtrain.trainer import augment, train
from workbench.api import MetricsTable, ModelCard, Progress, RunContext, ScoreSet

TITLES = {"ce": "plain cross-entropy", "mixoe": "MixOE", "palm": "PALM", "ascood": "ASCOOD"}


def architecture(params: TrainParams, data: OODData, head: dict) -> dict:
    return {"backbone": params.backbone, "width": params.width, "stem": params.stem, "in_channels": data.channels,
            "num_classes": data.num_classes, "mean": list(data.mean), "std": list(data.std), **head}


def build(params: TrainParams, data: OODData, head: dict, ctx: RunContext) -> tuple[OODNet, dict]:
    """The network for ``params``: random init, a local ResNet state dict, or a checkpoint to fine-tune."""
    if params.backbone_weights and params.backbone == "digits-cnn":
        raise ValueError("backbone_weights: applies to the ResNet backbones; use init_weights for a digits CNN")
    arch = architecture(params, data, head)
    torch.manual_seed(ctx.seed)
    net = build_network(arch)
    if params.backbone_weights:
        skipped = load_backbone_weights(net.encoder, params.backbone_weights)
        ctx.log(f"backbone weights from {params.backbone_weights}; not used: {', '.join(skipped) or 'none'}")
    if params.init_weights:
        loaded = load_model(params.init_weights, num_classes=data.num_classes, where="init_weights")
        own = net.state_dict()
        usable = {k: v for k, v in loaded.net.state_dict().items()
                  if k in own and tuple(v.shape) == tuple(own[k].shape) and k not in ("mean", "std")}
        if not any(k.startswith("encoder.") for k in usable):
            raise ValueError(f"init_weights: {params.init_weights} has another backbone "
                             f"({loaded.arch['backbone']}) than backbone={params.backbone}")
        net.load_state_dict(usable, strict=False)
        ctx.log(f"initialised {len(usable)} of {len(own)} tensors from {params.init_weights}")
    return net, arch


def zoo_card(method: str, arch: dict, metrics: dict[str, float]) -> ModelCard:
    backbone = f"DigitsCNN(width={arch['width']})" if arch["backbone"] == "digits-cnn" else \
        f"{arch['backbone']} ({arch['stem']} stem)"
    return ModelCard(
        id=f"{method}-digits", plugin="ood-train", title=f"Digits CNN trained with {TITLES[method]} (ID classes 0-5)",
        weights="model.safetensors",
        architecture=f"{backbone} encoder, {arch['head']} head; input {arch['in_channels']}x32x32",
        recipe=f"zoo-ood-{method}",
        data="digits world, seed 0: scikit-learn load_digits, classes 0-5, stratified 70/30 split",
        metrics={k: round(v, 4) for k, v in metrics.items()}, loader="wb_oodtrain.checkpoints:load_card",
        exporter="wb_oodtrain.export:export_classifier")


def run_training(method, params: TrainParams, ctx: RunContext, data: OODData, notes: list[str], view_fn):
    """Shared body of the four training tasks (a generator)."""
    if params.publish and params.dataset != "digits":
        raise ValueError("publish: the zoo ids <method>-digits name digits-world models; keep the run's artifacts")
    for warning in data.warnings:
        ctx.log(warning)
    net, arch = build(params, data, method.head, ctx)
    yield Progress(0.0, f"{TITLES[method.name]}: {len(data.x_train)} training images, {data.num_classes} classes")
    outcome = yield from train(method, net, arch, data.x_train, data.y_train, params, ctx)
    net = net.cpu().eval()
    weights = ctx.artifacts / "model.safetensors"
    detector = DEFAULT_DETECTOR.get(method.name) or getattr(params, "postprocessor", "msp")
    detector = "msp" if detector == "auto" else detector
    save_model(net, arch, weights, method.name, data.classes, detector)
    yield Progress(0.88, "scoring the ID test split and the OOD sets")
    detectors = list(dict.fromkeys([detector, "msp"]))
    scored = score_network(net, data, detectors, ctx)
    net = net.cpu()
    summary = group_means(scored.scores[detector], data.groups)
    metrics = {"id_test_accuracy": scored.accuracy, **summary}
    if not outcome.finished:
        notes.append(f"stopped at step {outcome.steps_done} of {outcome.total_steps}; continue with "
                     f"resume={ctx.artifacts / 'checkpoint.pt'}")
    if outcome.resumed_from:
        notes.append(f"resumed from step {outcome.resumed_from}")
    rows = [["method", TITLES[method.name]], ["detector", detector], ["steps", f"{outcome.steps_done}/"
            f"{outcome.total_steps}"], *[[k, v] for k, v in metrics.items()], ["weights", str(weights)]]
    yield MetricsTable(name="summary", title=f"{TITLES[method.name]}: accuracy and OOD detection", columns=[
        "quantity", "value"], rows=rows, notes="; ".join(notes + data.warnings))
    yield MetricsTable(name="ood-metrics", title="OOD detection metrics", columns=["detector", "ood set", "group",
                       *METRIC_COLUMNS], rows=metrics_rows(scored.scores, ID_SET, data.groups),
                       notes="Scores are confidences (higher = ID). fpr95_id_pos: OOD accepted at 95% ID kept; "
                             "fpr95_ood_pos: ID rejected at 95% OOD caught (OpenOOD).")
    yield ScoreSet(name="scores", title=f"{TITLES[method.name]} scores (higher = more in-distribution)",
                   scores=scored.scores, id_set=ID_SET, groups=data.groups)
    yield from view_fn(net)
    if params.publish and outcome.finished:
        ctx.publish_model(zoo_card(method.name, arch, metrics), {"model.safetensors": weights})


def _no_views(net):
    return iter(())


def run_ce(params: CEParams, ctx: RunContext):
    data = load_data(params)
    yield from run_training(CEMethod(), params, ctx, data, [], _no_views)


def run_mixoe(params: MixOEParams, ctx: RunContext):
    data = load_data(params)
    outliers, source = load_outliers(params, data, seed=ctx.seed)
    held_out, _ = load_outliers(params, data, seed=ctx.seed + 1) if not params.outlier_dir else (outliers, "")
    notes = [f"outliers: {source}"]
    for name, images in data.ood.items():
        shared = count_shared(images, outliers)
        if shared:
            notes.append(f"leakage: OOD set {name!r} shares {shared} images with the outlier set")
    method = MixOEMethod(params, torch.from_numpy(outliers).to(ctx.device), data.num_classes)

    def mix_views(net):
        yield from views.mixoe_views(net, data.x_test, held_out, params.mix_op, params.alpha, ctx.seed, "cpu")

    yield from run_training(method, params, ctx, data, notes, mix_views)


def run_palm(params: PALMParams, ctx: RunContext):
    if params.top_k > params.num_protos:
        raise ValueError(f"top_k: {params.top_k} exceeds num_protos={params.num_protos}")
    data = load_data(params)
    method = PALMMethod(params, data.num_classes, augment)

    def palm_views(net):
        yield from views.palm_views(net, data.x_train, data.y_train, data.x_test, data.y_test, data.classes,
                                    params.epsilon, params.sinkhorn_iters, "cpu")

    yield from run_training(method, params, ctx, data, [], palm_views)


def run_ascood(params: ASCOODParams, ctx: RunContext):
    data = load_data(params)
    method = ASCOODMethod(params, data.num_classes)

    def ascood_views(net):
        alpha = alpha_at(params.epochs - 1, params.epochs, params.alpha_max, params.alpha_min)
        yield views.ascood_views(net, data.x_test, data.y_test, params.ood_type, alpha, params.p_inv, ctx.seed,
                                 "cpu", params.outlier_space)

    yield from run_training(method, params, ctx, data, [f"virtual outliers: {params.ood_type}, p_inv "
                                                        f"{params.p_inv}, alpha {params.alpha_max}->"
                                                        f"{params.alpha_min}"], ascood_views)

