"""Hook implementations of the trainable OOD detectors: metadata only, no torch."""

from __future__ import annotations

from wb_oodtrain.params import ZOO_MODELS, ASCOODParams, CEParams, EvaluateParams, MixOEParams, PALMParams
from workbench.api import Family, TaskSpec, hookimpl

TRAIN_BACKENDS = ("torch-cuda", "torch-cpu")
TRAIN_OUTPUTS = ("curves", "metrics", "scores", "image-grid", "embedding-scatter")
REQUIRES = ("ood-baselines", "digits")


@hookimpl
def workbench_register_tasks(registry) -> None:
    common = "Datasets: digits world, ImageFolder trees, CIFAR-10/100 (python format); backbones: digits CNN, " \
             "ResNet-18/34/50. Checkpoints every N steps and resumes; DistributedDataParallel under torchrun."
    registry.add_task(TaskSpec(
        id="ood.train-ce", title="Train: plain cross-entropy (MSP baseline)", family=Family.OOD,
        entry="wb_oodtrain.tasks:run_ce", params=CEParams, backends=TRAIN_BACKENDS, execution="worker",
        outputs=TRAIN_OUTPUTS, requires=REQUIRES,
        description="The baseline the trained detectors are compared with: same backbone, budget and seed. "
                    + common,
    ))
    registry.add_task(TaskSpec(
        id="ood.train-mixoe", title="Train: MixOE", family=Family.OOD,
        entry="wb_oodtrain.tasks:run_mixoe", params=MixOEParams, backends=TRAIN_BACKENDS, execution="worker",
        outputs=TRAIN_OUTPUTS, requires=REQUIRES,
        description="Mixup/CutMix between ID images and an outlier set with soft targets toward uniform; scored "
                    "with MSP. Views: mixed samples with lambda, MSP against lambda. " + common,
    ))
    registry.add_task(TaskSpec(
        id="ood.train-palm", title="Train: PALM", family=Family.OOD,
        entry="wb_oodtrain.tasks:run_palm", params=PALMParams, backends=TRAIN_BACKENDS, execution="worker",
        outputs=TRAIN_OUTPUTS, requires=REQUIRES,
        description="Prototype mixtures on the hypersphere (Sinkhorn, EMA prototypes, MLE + prototype "
                    "contrastive loss); scored with Mahalanobis on normalised backbone features. Views: 2-D "
                    "projection of embeddings with prototypes, prototype usage. " + common,
    ))
    registry.add_task(TaskSpec(
        id="ood.train-ascood", title="Train: ASCOOD", family=Family.OOD,
        entry="wb_oodtrain.tasks:run_ascood", params=ASCOODParams, backends=TRAIN_BACKENDS, execution="worker",
        outputs=TRAIN_OUTPUTS, requires=REQUIRES,
        description="Virtual outliers synthesised from ID images (gradient, shuffle, gaussian), standardised "
                    "features, KL to uniform; scored with the chosen postprocessor (i-ODIN included). View: image "
                    "| attribution | virtual outlier. " + common,
    ))
    registry.add_task(TaskSpec(
        id="ood.evaluate", title="Evaluate trained OOD detectors side by side", family=Family.OOD,
        entry="wb_oodtrain.evaluate:run", params=EvaluateParams,
        backends=("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"), execution="inproc",
        outputs=("metrics", "scores"), requires=REQUIRES,
        description="Scores any trained checkpoints (default: the four digits zoo models) with each method's own "
                    "score or any listed detector: one table with near/far AUROC and FPR@95, one ROC plot. On "
                    "ONNX the models are exported with a parity check (ODIN/i-ODIN need torch).",
    ))


@hookimpl
def workbench_register_model_cards(registry) -> None:
    for zoo_id in ZOO_MODELS:
        registry.add_zoo_card(zoo_id)
