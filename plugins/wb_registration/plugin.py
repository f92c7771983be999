"""Hook implementations of the 3D registration plugin: metadata only (no torch, no Open3D)."""

from __future__ import annotations

from wb_registration.params import RegisterParams, SweepParams, TrainVBRegParams
from workbench.api import Family, SampleSpec, TaskSpec, hookimpl

ZOO_ID = "vbreg"


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(
        id="registration.register",
        title="Register two point clouds",
        family=Family.REGISTRATION,
        entry="wb_registration.task_register:run",
        params=RegisterParams,
        description="Synthetic matches, a synthetic pair through FPFH, or your files (.ply/.pcd/.xyz/.pts/.npy); "
                    "VBReg, SC2-PCR, RANSAC, FGR or Kabsch, optional ICP; RE/TE/success and inlier P/R/F1 "
                    "against the truth; ill-posed input is reported as such.",
        backends=("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"),
        execution="inproc",
        outputs=("registration", "metrics", "curves", "image-grid"),
    ))
    registry.add_task(TaskSpec(
        id="registration.sweep",
        title="Robustness ladder (outlier-ratio sweep)",
        family=Family.REGISTRATION,
        entry="wb_registration.task_sweep:run",
        params=SweepParams,
        description="Success, RE, TE and time vs outlier ratio for each method over seeds on synthetic matches; "
                    "writes sweep.csv.",
        backends=("torch-cuda", "torch-cpu", "onnx-cuda", "onnx-cpu"),
        execution="worker",
        outputs=("curves", "metrics"),
    ))
    registry.add_task(TaskSpec(
        id="registration.train-vbreg",
        title="Train the VBReg network",
        family=Family.REGISTRATION,
        entry="wb_registration.train:run",
        params=TrainVBRegParams,
        description="Trains the variational non-local network on synthetic correspondences with resumable "
                    "checkpoints, evaluates it on held-out pairs and exports it to ONNX.",
        backends=("torch-cuda", "torch-cpu"),
        execution="worker",
        outputs=("curves", "metrics"),
    ))


@hookimpl
def workbench_register_sample_data(registry) -> None:
    registry.add_sample(SampleSpec(
        id="registration-dem-pair",
        title="Registration pair: Jacksboro terrain",
        loader="wb_registration.synthetic:make_pair",
        description="matplotlib's real elevation model as a point cloud, a random rigid motion, noise and "
                    "putative matches with surface / box / structured outliers.",
    ))


@hookimpl
def workbench_register_model_cards(registry) -> None:
    registry.add_zoo_card(ZOO_ID)
