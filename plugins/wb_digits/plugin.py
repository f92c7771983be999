"""Hook implementations of the digits plugin: metadata only, no torch."""

from __future__ import annotations

from wb_digits.params import TrainClassifierParams
from workbench.api import Family, SampleSpec, TaskSpec, hookimpl

ZOO_ID = "digits-cnn"


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(
        id="digits.train-classifier",
        title="Train the digits classifier",
        family=Family.DATA,
        entry="wb_digits.train:run",
        params=TrainClassifierParams,
        description="Trains the zoo's small CNN on the digits world's in-distribution classes (0-5); checkpoints "
                    "every epoch, resumes, publishes into the user's zoo.",
        backends=("torch-cuda", "torch-cpu"),
        execution="worker",
        outputs=("curves", "metrics"),
    ))


@hookimpl
def workbench_register_sample_data(registry) -> None:
    registry.add_sample(SampleSpec(
        id="digits",
        title="Digits world",
        loader="wb_digits.world:load_digits_world",
        kind="labelled-images",
        description="scikit-learn's real 8x8 handwritten digits upscaled to 32x32: ID classes 0-5, near-OOD "
                    "classes 6-9, far-OOD photo patches, noise and textures.",
    ))


@hookimpl
def workbench_register_model_cards(registry) -> None:
    registry.add_zoo_card(ZOO_ID)
