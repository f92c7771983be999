"""Parameter models of the trainable OOD detectors (cheap to import: used when plugins are listed).

Method hyper-parameters default to the papers' values (named in each description); epochs, batch size and
learning rate default to a budget that trains the digits world in well under a minute on a CPU.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from workbench.api import VersionedParams

DatasetName = Literal["digits", "sample", "imagefolder", "cifar10", "cifar100"]
BackboneName = Literal["digits-cnn", "resnet18", "resnet34", "resnet50"]
Detector = Literal["auto", "msp", "max-logit", "energy", "odin", "i-odin", "mahalanobis", "mahalanobis-norm",
                   "ssd+", "knn"]
ZOO_MODELS = ("ce-digits", "mixoe-digits", "palm-digits", "ascood-digits")

# Form hints (groups, fields shown only for some choices, path pickers), composed per model below.
_DATA_GROUPS = {"Input": ["sample", "sample_seed", "id_train_dir", "id_test_dir", "cifar_dir", "near_ood_dirs",
                          "far_ood_dirs", "image_size", "color"]}
_DATA_SHOWN = {"sample": {"dataset": ["sample"]}, "sample_seed": {"dataset": ["sample"]},
               "id_train_dir": {"dataset": ["imagefolder"]}, "id_test_dir": {"dataset": ["imagefolder"]},
               "cifar_dir": {"dataset": ["cifar10", "cifar100"]}}
_RESNETS = ["resnet18", "resnet34", "resnet50"]
_TRAIN_GROUPS = {"Model": ["backbone", "width", "stem", "backbone_weights", "init_weights"],
                 "Training": ["optimizer", "lr", "weight_decay", "augment"],
                 "Advanced": ["lr_min", "warmup_steps", "checkpoint_every", "max_steps", "resume", "on_bad_image"]}
_TRAIN_SHOWN = {"width": {"backbone": ["digits-cnn"]}, "stem": {"backbone": _RESNETS},
                "backbone_weights": {"backbone": _RESNETS}}


def _train_form(method_settings: list[str], shown: dict[str, dict[str, list[str]]] | None = None) -> ConfigDict:
    """The form hints of a training task whose own hyper-parameters are ``method_settings``."""
    return ConfigDict(json_schema_extra={
        "groups": {**_DATA_GROUPS, **_TRAIN_GROUPS, "Method settings": method_settings},
        "show_when": {**_DATA_SHOWN, **_TRAIN_SHOWN, **(shown or {})}})


class DataParams(VersionedParams):
    """Where the ID train/test images, the named OOD sets and (for MixOE) the outlier set come from."""

    dataset: DatasetName = Field("digits", description="digits: the built-in digits world; sample: the "
                                 "labelled-images sample world named by `sample` (e.g. shapes-ood); imagefolder: "
                                 "id_train_dir/id_test_dir class folders; cifar10/cifar100: cifar_dir in the "
                                 "python (pickle) format")
    sample: str = Field("shapes-ood", description="dataset=sample: id of a labelled-images sample world (ID "
                                                  "splits and near/far OOD sets, any channels, [0, 1] pixels)")
    sample_seed: int = Field(0, ge=0, description="dataset=sample: the world's seed (fixes its images)")
    id_train_dir: str = Field("", description="imagefolder: ID training images as <dir>/<class>/<image>")
    id_test_dir: str = Field("", description="imagefolder: ID test images, same class folders as training")
    cifar_dir: str = Field("", description="cifar10/cifar100: folder holding data_batch_1..5 + test_batch "
                                           "(CIFAR-10) or train + test (CIFAR-100)")
    near_ood_dirs: list[str] = Field([], description="folders of near-OOD images (one named set per folder)")
    far_ood_dirs: list[str] = Field([], description="folders of far-OOD images (one named set per folder)")
    image_size: int = Field(32, ge=8, le=512, description="images are resized to image_size x image_size")
    color: Literal["auto", "gray", "rgb"] = Field("auto", description="auto: gray for digits, RGB otherwise")
    on_bad_image: Literal["raise", "skip"] = Field("raise", description="unreadable image: stop naming it, or "
                                                                        "skip and count")


class TrainParams(DataParams):
    """Backbone, optimisation, checkpointing and resuming shared by every training task."""

    model_config = _train_form([])

    revision = 2
    renamed = {"save_to_zoo": (2, "publish")}

    backbone: BackboneName = Field("digits-cnn", description="digits-cnn (small CNN) or a torchvision ResNet")
    width: int = Field(32, ge=4, le=256, description="digits-cnn: channels of the first conv block")
    stem: Literal["imagenet", "cifar"] = Field("cifar", description="ResNet stem: imagenet (7x7/2 + max-pool) "
                                                                    "or cifar (3x3/1, no pool)")
    backbone_weights: str = Field("", description="local torchvision ResNet state dict or safetensors for the "
                                                  "backbone (its fc is dropped); empty: random init")
    init_weights: str = Field("", description="a checkpoint of this plugin (or the zoo digits CNN) to fine-tune; "
                                              "'zoo:<id>' names a zoo model")
    epochs: int = Field(15, ge=1, le=1000, description="passes over the ID training split")
    batch_size: int = Field(64, ge=2, le=4096, description="ID images per step and process")
    optimizer: Literal["sgd", "adamw"] = Field("adamw", description="sgd: Nesterov, momentum 0.9 (the papers)")
    lr: float = Field(3e-3, gt=0, le=10.0, description="peak learning rate (per-step cosine schedule)")
    lr_min: float = Field(1e-6, ge=0, description="learning rate at the end of the cosine schedule")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up steps")
    weight_decay: float = Field(5e-4, ge=0)
    augment: bool = Field(True, description="random shifts of up to 2 px (and flips for RGB)")
    checkpoint_every: int = Field(0, ge=0, description="save a resumable checkpoint every N steps (0: each epoch)")
    max_steps: int = Field(0, ge=0, description="stop after this many steps in total (0: run every epoch); "
                                                "a later run can resume")
    resume: str = Field("", description="a training checkpoint (artifacts/checkpoint.pt) or its run folder")
    publish: bool = Field(False, description="publish the weights and card as zoo model '<method>-digits' in the "
                                             "user's zoo ($WORKBENCH_HOME/models; a previous version is kept)")


class CEParams(TrainParams):
    """Plain cross-entropy: the MSP baseline trained with the same backbone, budget and seed."""


class MixOEParams(TrainParams):
    """MixOE (Zhang et al. 2023): mix ID images with outliers, soft targets toward uniform."""

    model_config = _train_form(["mix_op", "alpha", "beta", "outlier_dir", "n_outliers", "forward_passes",
                                "cutmix_box"],
                               {"n_outliers": {"dataset": ["digits"]}, "cutmix_box": {"mix_op": ["cutmix"]}})

    mix_op: Literal["mixup", "cutmix"] = Field("mixup", description="mixup blends; cutmix pastes an outlier box "
                                                                    "into the ID image")
    alpha: float = Field(1.0, gt=0, description="lambda ~ Beta(alpha, alpha); paper: 1.0 mixup, 2.0 cutmix")
    beta: float = Field(5.0, ge=0, description="weight of the mixed soft-target loss (paper scripts: 5.0)")
    outlier_dir: str = Field("", description="outlier images (any folder tree). Empty on digits: synthetic letters "
                                             "and strokes, never the evaluation OOD sets")
    n_outliers: int = Field(2000, ge=16, description="digits: how many synthetic outliers to draw")
    forward_passes: Literal["two", "one"] = Field(
        "two", description="two: the clean and the mixed batch in separate forward passes, so BatchNorm normalises "
                           "each with its own statistics (the reference, zjysteven/MixOE); one: both concatenated "
                           "in one pass (shared statistics, one forward)")
    cutmix_box: Literal["batch", "per-sample"] = Field(
        "batch", description="cutmix: batch = one box for the whole batch, side int(sqrt(1-lambda) * size), "
                             "corners centre -/+ side//2 clipped (the reference); per-sample = one box per image, "
                             "side round(sqrt(1-lambda) * size), each image's lambda from its own box")


class PALMParams(TrainParams):
    """PALM (Lu et al. 2024): M prototypes per class on the hypersphere, Sinkhorn assignment, MLE + contrast."""

    model_config = _train_form(["num_protos", "top_k", "temperature", "proto_temperature", "epsilon",
                                "sinkhorn_iters", "proto_m", "lambda_pcon", "proj_dim", "palm_assignment"])

    num_protos: int = Field(6, ge=1, le=64, description="M prototypes per class (paper: 6)")
    top_k: int = Field(5, ge=1, le=64, description="keep the k largest assignment weights (paper: 5)")
    temperature: float = Field(0.1, gt=0, description="tau of the MLE loss (paper: 0.1)")
    proto_temperature: float = Field(0.5, gt=0, description="tau' of the prototype contrastive loss (paper: 0.5)")
    epsilon: float = Field(0.05, gt=0, description="Sinkhorn entropic epsilon (paper: 0.05)")
    sinkhorn_iters: int = Field(3, ge=1, le=50, description="Sinkhorn-Knopp iterations (paper: 3)")
    proto_m: float = Field(0.999, ge=0, le=1, description="EMA momentum of the prototypes (paper: 0.999; short "
                                                          "budgets need less, e.g. 0.95)")
    lambda_pcon: float = Field(1.0, ge=0, description="weight of the prototype contrastive loss (paper: 1)")
    proj_dim: int = Field(128, ge=2, le=2048, description="dimension of the hypersphere embedding (paper: 128)")
    palm_assignment: Literal["reference", "pre-update"] = Field(
        "reference", description="reference: as jeff024/PALM, Sinkhorn runs again after the prototype update, the "
                                 "MLE loss weights that new assignment on the update's top-k and sees the updated "
                                 "prototypes detached; pre-update: the first assignment is reused for the loss and "
                                 "gradients flow through the updated prototypes")


class ASCOODParams(TrainParams):
    """ASCOOD (Regmi 2024): virtual outliers from ID images, standardised-feature head, KL to uniform."""

    model_config = _train_form(["ood_type", "p_inv", "alpha_max", "alpha_min", "w", "sigma", "fc_lr_factor",
                                "outlier_space", "postprocessor"])

    ood_type: Literal["gradient", "shuffle", "gaussian"] = Field("gradient", description="how virtual outliers "
                                                                 "are made from ID images (yml default: gradient)")
    p_inv: float = Field(0.1, gt=0, le=1, description="fraction of the most attributed pixels destroyed (0.1)")
    alpha_max: float = Field(300.0, ge=0, description="outlier strength; the schedule alpha_min + (alpha_max - "
                             "alpha_min)(1 - e/E) counts epochs e = 1..E as the reference does (yml: 300)")
    alpha_min: float = Field(30.0, ge=0, description="outlier strength at the last epoch (yml: 30)")
    w: float = Field(1.0, ge=0, description="weight of the KL-to-uniform loss on virtual outliers (yml: 1)")
    sigma: float = Field(0.5, gt=0, description="scale of the standardised features (yml: 0.5)")
    fc_lr_factor: float = Field(1.0, gt=0, description="learning-rate factor of the classifier layer")
    outlier_space: Literal["normalised", "raw"] = Field(
        "normalised", description="where the attribution and the outlier synthesis act: normalised = on the "
                                  "mean/std-normalised input the network sees (the reference; alpha is in those "
                                  "units); raw = on [0, 1] pixels (identical when mean 0 / std 1, e.g. digits)")
    postprocessor: Detector = Field("msp", description="the score `ood.evaluate` uses for this model under 'auto'")


class EvaluateParams(DataParams):
    """Score trained checkpoints side by side: one metrics table, one ROC plot."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {**_DATA_GROUPS, "Detector settings": ["odin_temperature", "odin_epsilon", "knn_k"],
                   "Advanced": ["batch_size", "on_bad_image"]},
        "show_when": {**_DATA_SHOWN, "odin_temperature": {"detectors": ["odin", "i-odin"]},
                      "odin_epsilon": {"detectors": ["odin", "i-odin"]}, "knn_k": {"detectors": ["knn"]}}})

    checkpoints: list[str] = Field([f"zoo:{m}" for m in ZOO_MODELS], min_length=1,
                                   description="checkpoints of this plugin (or the zoo digits CNN); 'zoo:<id>' "
                                               "names a zoo model")
    detectors: list[Detector] = Field(["auto"], min_length=1, description="auto: each method's own score "
                                      "(CE/MixOE: MSP, PALM: Mahalanobis on normalised features, ASCOOD: its "
                                      "postprocessor)")
    odin_temperature: float = Field(1000.0, gt=0, description="ODIN / i-ODIN temperature")
    odin_epsilon: float = Field(0.0014, ge=0, description="ODIN / i-ODIN perturbation size")
    knn_k: int = Field(50, ge=1, description="KNN: k-th nearest normalised training feature")
    batch_size: int = Field(256, ge=1, le=8192)
