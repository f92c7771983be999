"""Parameter models of the registration plugin (cheap to import: read when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.api import VersionedParams

Method = Literal["vbreg", "sc2pcr", "ransac", "fgr", "kabsch"]
Shape = Literal["dem", "blob", "sphere"]
OutlierModel = Literal["surface", "box", "structured"]


#: VBReg's named seeding option: SC2-PCR's seed count (20 % of the matches after NMS, no floor), instead of the
#: reference's max(10 %, 1000), which makes every match a seed up to 1000 matches.
SC2PCR_SEEDING = {"vbreg_seed_ratio": 0.2, "vbreg_n_min": 1}

_SETTINGS_OF = {"sc2pcr": ["sc2_seed_ratio", "sc2_k1", "sc2_k2", "sc2_variant"],
                "vbreg": ["vbreg_checkpoint", "vbreg_onnx", "vbreg_seed_ratio", "vbreg_n_min", "vbreg_kappa",
                          "vbreg_variant"],
                "ransac": ["ransac_iterations", "ransac_confidence"]}
_SYNTHETIC = ["shape", "n_points", "rotation_max_deg", "translation", "noise", "overlap", "n_matches",
              "outlier_ratio", "outlier_model"]
_METHOD_SETTINGS = ["eps", *(name for names in _SETTINGS_OF.values() for name in names)]


def _settings_shown_for(choice_field: str) -> dict[str, dict[str, list[str]]]:
    """Form hints: each method's own settings are shown only while ``choice_field`` holds that method."""
    return {name: {choice_field: [method]} for method, names in _SETTINGS_OF.items() for name in names}


class SyntheticFields(BaseModel):
    """The synthetic pair generator's knobs, shared by the register and sweep tasks."""

    model_config = ConfigDict(extra="forbid")

    shape: Shape = Field("dem", description="dem: matplotlib's real Jacksboro terrain; blob: asymmetric closed "
                                            "surface; sphere: symmetric (ill-posed on purpose)")
    n_points: int = Field(20000, ge=10, le=2_000_000, description="points sampled from the shape per cloud")
    rotation_max_deg: float = Field(180.0, ge=0, le=180, description="rotation angle drawn from U(0, this)")
    translation: float = Field(0.5, ge=0, description="translation drawn from U(-this, this)^3 (unit-scale shape)")
    noise: float = Field(0.005, ge=0, description="Gaussian noise sigma on the target (shape scale about 1)")
    overlap: float = Field(1.0, gt=0, le=1, description="fraction of the shape each copy keeps (random plane crop)")
    n_matches: int = Field(1000, ge=1, le=6000, description="putative matches (synthetic-matches input)")
    outlier_ratio: float = Field(0.9, ge=0, le=1, description="fraction of matches replaced by outliers")
    outlier_model: OutlierModel = Field("surface", description="surface: random target points; box: uniform in the "
                                                               "bounding box; structured: half follow a second motion")


class EstimatorFields(BaseModel):
    """Estimator settings shared by the register and sweep tasks."""

    model_config = ConfigDict(extra="forbid")

    eps: float | None = Field(None, gt=0, description="inlier threshold (= sigma_d); default 0.03 for synthetic "
                                                      "matches, 1.5 x voxel for the FPFH pipeline")
    ransac_iterations: int = Field(100_000, ge=1, description="Open3D RANSAC max iterations")
    ransac_confidence: float = Field(0.999, gt=0, lt=1, description="Open3D RANSAC confidence (early exit)")
    sc2_seed_ratio: float = Field(0.2, gt=0, le=1, description="SC2-PCR: fraction of matches used as seeds")
    sc2_k1: int = Field(30, ge=2, description="SC2-PCR: first-stage consensus size")
    sc2_k2: int = Field(20, ge=2, description="SC2-PCR: second-stage consensus size")
    sc2_variant: Literal["reference", "workbench"] = Field(
        "reference", description="SC2-PCR: 'reference' follows the authors' SC2_PCR.py (ZhiChen902/SC2-PCR "
                                 "@ 19961ea); 'workbench' is this project's earlier reading: zero matrix diagonals, "
                                 "eps for both second-order factors, seed + k1 others, a masked eps/2 second stage, "
                                 "10 fixed power steps, seeds filled by confidence, refinement until the inlier set "
                                 "repeats (effect: docs/fidelity.md)")
    vbreg_checkpoint: str = Field("", description="VBReg weights (.safetensors or .pt); empty = the zoo model")
    vbreg_onnx: str = Field(
        "", json_schema_extra={"path": "file"},
        description="a VBReg ONNX file for the onnx backends; empty = the host exports the "
                    "network once (parity-checked) and caches it by weights")
    vbreg_seed_ratio: float = Field(0.1, gt=0, le=1, description="VBReg: conservative seeding ratio")
    vbreg_n_min: int = Field(1000, ge=1, description="VBReg: at least this many seeds (all when fewer matches; the "
                                                     "reference's 1000 seeds every one of 1000 matches); with "
                                                     "vbreg_seed_ratio 0.2, 1 is SC2-PCR's seed count "
                                                     "(SC2PCR_SEEDING: faster; effect: docs/fidelity.md)")
    vbreg_kappa: int = Field(40, ge=4, le=200, description="VBReg: hypothesis size (seed + kappa-1 voted matches)")
    vbreg_variant: Literal["reference", "workbench"] = Field(
        "reference", description="VBReg closed-form stages: 'reference' follows the authors' VBReg.py / "
                                 "BaseModel.py (Jiang-HB/VBReg @ 6e62289); 'workbench' is this project's earlier "
                                 "reading: attention votes before compatibility, seeds by sigmoid confidence, a "
                                 "seed never votes for itself, voting with the learned sigma, 10 fixed power steps, "
                                 "refinement until the inlier set repeats (effect: docs/fidelity.md)")


class RegisterParams(SyntheticFields, EstimatorFields):
    """Register one pair: synthetic matches, a synthetic pair through FPFH, or files."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "groups": {"Input": ["input", "source_path", "target_path", "truth_path", "correspondences_path",
                             *_SYNTHETIC, "voxel", "mutual"],
                   "Method settings": _METHOD_SETTINGS,
                   "Refinement": ["icp", "icp_kernel", "icp_threshold"],
                   "Advanced": ["max_matches", "max_points", "symmetry_check"]},
        "show_when": {**_settings_shown_for("method"),
                      **{name: {"input": ["files"]} for name in ("source_path", "target_path", "truth_path",
                                                                 "correspondences_path")},
                      **{name: {"input": ["synthetic-matches", "synthetic-fpfh"]} for name in _SYNTHETIC},
                      **{name: {"input": ["synthetic-fpfh", "files"]} for name in ("voxel", "mutual")},
                      **{name: {"icp": ["point-to-point", "point-to-plane"]} for name in ("icp_kernel",
                                                                                          "icp_threshold")}}})

    input: Literal["synthetic-matches", "synthetic-fpfh", "files"] = Field(
        "synthetic-matches", description="where the pair comes from")
    source_path: str = Field("", description="source cloud (.ply/.pcd/.xyz/.pts/.npy) for input=files")
    target_path: str = Field("", description="target cloud for input=files")
    truth_path: str = Field("", description="optional ground-truth 4x4 (.txt/.npy), source -> target")
    correspondences_path: str = Field("", description="optional external matches: (k,2) indices or (k,6) coords")
    method: Method = Field("vbreg", description="the robust estimator")
    voxel: float | None = Field(None, gt=0, description="FPFH voxel size; default 1% of the bounding-box diagonal")
    mutual: bool = Field(True, description="keep only mutual nearest neighbours in FPFH space")
    max_matches: int = Field(3000, ge=3, le=6000, description="cap on matches (pairwise stages are N x N)")
    max_points: int = Field(300_000, ge=100, description="larger clouds are randomly downsampled with a warning")
    icp: Literal["off", "point-to-point", "point-to-plane"] = Field("off", description="ICP refinement")
    icp_kernel: Literal["none", "huber", "cauchy", "tukey", "gm", "l1"] = Field("tukey",
                                                                                description="ICP robust kernel")
    icp_threshold: float | None = Field(None, gt=0, description="ICP distance; default: two passes, "
                                                                   "eps then 0.4 x voxel (FPFH) or eps")
    symmetry_check: bool = Field(True, description="flag a target that fits itself after a 45-degree turn "
                                                   "as ill-posed")


class SweepParams(SyntheticFields, EstimatorFields):
    """The robustness ladder: success vs outlier ratio per method over seeds, on synthetic matches."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "groups": {"Synthetic pairs": _SYNTHETIC, "Method settings": _METHOD_SETTINGS},
        "show_when": _settings_shown_for("methods")})

    methods: list[Method] = Field(["kabsch", "fgr", "ransac", "sc2pcr", "vbreg"], description="methods to compare")
    outlier_ratios: list[float] = Field([0.0, 0.5, 0.8, 0.9, 0.95, 0.97, 0.99], description="ratios to sweep")
    seeds: int = Field(5, ge=1, le=1000, description="pairs per ratio (seeds 0..n-1 offset by the run seed)")
    re_max_deg: float = Field(5.0, gt=0, description="success: RE below this (degrees)")
    te_max: float = Field(0.05, gt=0, description="success: TE below this (shape units)")


class TrainVBRegParams(VersionedParams):
    """Train the VBReg network on synthetic correspondences (the zoo recipe's defaults)."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Data": ["n_matches", "outlier_min", "outlier_max", "eps"],
                   "Network": ["layers", "dim", "hidden", "latent"],
                   "Method settings": ["classification_loss", "spectral_loss", "kl_reduction"],
                   "Training": ["lr", "weight_decay", "eval_pairs", "export_onnx"],
                   "Advanced": ["checkpoint_every", "resume"]}})
    revision = 2
    renamed = {"resume_from": (2, "resume"), "save_to_zoo": (2, "publish")}

    steps: int = Field(600, ge=1, le=1_000_000, description="optimiser steps")
    batch_size: int = Field(4, ge=1, le=64, description="pairs per step")
    n_matches: int = Field(256, ge=8, le=2000, description="matches per training pair")
    outlier_min: float = Field(0.5, ge=0, le=1, description="outlier ratio drawn from U(min, max) per pair")
    outlier_max: float = Field(0.99, ge=0, le=1)
    eps: float = Field(0.03, gt=0, description="inlier threshold and sigma_d")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    weight_decay: float = Field(1e-6, ge=0)
    layers: int = Field(4, ge=1, le=12, description="variational non-local layers")
    dim: int = Field(32, ge=8, le=256, description="feature width")
    hidden: int = Field(32, ge=8, le=512, description="GRU state width")
    latent: int = Field(16, ge=2, le=256, description="Gaussian latent width")
    classification_loss: Literal["bce", "balanced-bce", "balanced-bce-capped"] = Field(
        "bce", description="inlier BCE: 'bce' as the released VBReg configs (balanced: false); 'balanced-bce' the "
                           "reference's balanced form (positives weighted #neg/#pos); 'balanced-bce-capped' the "
                           "workbench's earlier form (that weight capped at 100)")
    spectral_loss: Literal["mse", "balanced", "balanced-pooled"] = Field(
        "mse", description="spectral-matching loss: 'mse' as the released configs (zero diagonals); 'balanced' "
                           "the reference's balanced form (per sample, zero diagonals); 'balanced-pooled' the "
                           "workbench's earlier form (diagonal kept, pooled over the batch)")
    kl_reduction: Literal["mean", "sum-qkv"] = Field(
        "mean", description="KL over layers x {Q, K, V}: 'mean' as the reference; 'sum-qkv' the workbench's "
                            "earlier form (Q, K, V summed: 3 x the reference's weight)")
    checkpoint_every: int = Field(100, ge=1, description="write a resumable checkpoint every this many steps")
    resume: str = Field("", description="a training checkpoint (artifacts/checkpoint.pt) or its run folder")
    eval_pairs: int = Field(10, ge=0, le=200, description="held-out pairs per ratio for the final evaluation")
    export_onnx: bool = Field(True, description="export the network to ONNX with a parity check (recorded in "
                                                "the card)")
    publish: bool = Field(False, description="publish the weights and card as zoo model 'vbreg' in the user's zoo "
                                             "($WORKBENCH_HOME/models; a previous version is kept)")
