"""Parameter models of the test-time adaptation tasks (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CorruptionName = Literal["none", "gaussian_noise", "shot_noise", "defocus_blur", "gaussian_blur", "motion_blur",
                         "contrast", "brightness", "jpeg", "pixelate"]
OrderName = Literal["iid", "class-sorted", "dirichlet"]
MethodName = Literal["none", "bn-stats", "tent", "lame", "cafa"]
ALL_CORRUPTIONS = ["gaussian_noise", "shot_noise", "defocus_blur", "gaussian_blur", "motion_blur", "contrast",
                   "brightness", "jpeg", "pixelate"]

# Form hints: each method's own settings show only while that method is chosen (``choice`` names the field).
_SETTINGS_OF = {"lame": ["lame_affinity", "lame_knn", "lame_lambda", "lame_max_iter", "lame_force_symmetry",
                         "lame_symmetrise", "lame_stop"],
                "tent": ["lr", "optimizer", "steps", "bn_statistics"],
                "cafa": ["lr", "optimizer", "steps", "bn_statistics", "cafa_stats_file", "cafa_per_class",
                         "cafa_covariance", "cafa_shrinkage", "cafa_denominator"]}
_SOURCE_GROUP = {"Input": ["data", "model", "model_path"]}
_STREAM_GROUP = {"Stream": ["ladder", "batch_size", "passes", "dirichlet_alpha"]}


def _stream_form(choice: str, order: str, advanced: list[str]) -> ConfigDict:
    """The form hints of a task choosing methods in field ``choice`` and stream orders in field ``order``."""
    settings = list(dict.fromkeys(name for names in _SETTINGS_OF.values() for name in names))
    shown: dict[str, dict[str, list[str]]] = {}
    for method, names in _SETTINGS_OF.items():
        for name in names:
            shown.setdefault(name, {choice: []})[choice].append(method)
    shown["dirichlet_alpha"] = {order: ["dirichlet"]}
    shown["lame_symmetrise"] = {**shown["lame_symmetrise"], "lame_force_symmetry": [True]}
    return ConfigDict(extra="forbid", json_schema_extra={
        "groups": {**_SOURCE_GROUP, **_STREAM_GROUP, "Method settings": settings,
                   **({"Advanced": advanced} if advanced else {})},
        "show_when": shown, "paths": {"data": "dir"}})


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: str = Field("digits", description="'digits' (the built-in world: train split = source, test split = "
                                            "stream) or an ImageFolder directory root/<class>/<images> (the "
                                            "stream; for tta.source-stats the labelled source set)")
    model: str = Field("digits-cnn", description="zoo classifier (features + logits); its loader reads "
                                                 "`model_path` when given")
    model_path: str = Field("", description="weights file of the zoo model's architecture (.safetensors or a plain "
                                            "state dict); empty = the zoo model's own weights")


class _Stream(_Source):
    ladder: Literal["digits", "cifar10c"] = Field(
        "digits", description="severity constants: 'cifar10c' (CIFAR-10-C values) or 'digits' (same corruptions, "
                              "stronger constants calibrated on the upscaled 8x8 digits)")
    batch_size: int = Field(64, ge=1, le=4096, description="test batch size")
    passes: int = Field(2, ge=1, le=50, description="passes over the test split; each pass draws fresh "
                                                    "corruption noise and a fresh order")
    dirichlet_alpha: float = Field(0.1, gt=0, description="Dirichlet concentration of the 'dirichlet' order: "
                                                          "small = long single-class runs, large = i.i.d.")


class MethodSettings(BaseModel):
    """Hyper-parameters of the methods, shared by tta.adapt and tta.benchmark (documented CAFA choices here)."""

    model_config = ConfigDict(extra="forbid")

    lame_affinity: Literal["knn", "rbf", "linear"] = Field("knn", description="LAME affinity on normalised "
                                                                               "features")
    lame_knn: int = Field(5, ge=1, le=256, description="LAME neighbours (kNN) / sigma neighbour (rbf)")
    lame_lambda: float = Field(1.0, ge=0, description="weight of LAME's Laplacian term")
    lame_max_iter: int = Field(100, ge=1, le=10000, description="LAME fixed-point iterations at most")
    lame_force_symmetry: bool = Field(False, description="symmetrise the affinity (see lame_symmetrise); the "
                                                          "reference's default is False")
    lame_symmetrise: Literal["average", "max"] = Field(
        "average", description="how lame_force_symmetry symmetrises: average = (W + W^T)/2 (the reference, "
                               "fiveai/LAME); max = max(W, W^T) (a kNN edge in either direction counts 1)")
    lame_stop: Literal["reference", "cccp"] = Field(
        "reference", description="LAME stopping rule: reference = the official code's (energy without the 1/2 on "
                                 "the Laplacian term, with the previous iterate's kernel term, relative change <= "
                                 "1e-8 checked from the 3rd iteration); cccp = the objective with the 1/2 at the new "
                                 "iterate (non-increasing for rbf/linear), checked from the 2nd iteration")
    lr: float = Field(1e-3, gt=0, le=1.0, description="TENT/CAFA learning rate")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="TENT/CAFA optimiser (SGD uses momentum 0.9)")
    steps: int = Field(1, ge=1, le=20, description="TENT/CAFA gradient steps per test batch")
    bn_statistics: Literal["batch", "source"] = Field(
        "batch", description="TENT/CAFA BatchNorm statistics: 'batch' (each test batch, as TENT) or 'source' "
                             "(the frozen running statistics)")
    cafa_stats_file: str = Field("", description="CAFA source statistics file (.safetensors from "
                                                   "tta.source-stats); empty = compute them and save with the run")
    cafa_per_class: int = Field(100, ge=2, le=100000, description="source images per class for CAFA statistics")
    cafa_covariance: Literal["class", "tied"] = Field(
        "class", description="CAFA covariance: class = one per class, the paper's D(x; mu_y, Sigma_y); tied = one "
                             "pooled covariance (the stable variant with few source images per class)")
    cafa_shrinkage: float = Field(0.0, ge=0, le=1, description="CAFA covariance shrinkage towards tr(S)/d I: 0 = the "
                                  "paper's plain covariance (pseudo-inverse); 0.1 with tied = the stable variant")
    cafa_denominator: Literal["others", "all"] = Field(
        "others", description="CAFA loss denominator: distances to the classes other than the pseudo-label, "
                              "or to all classes")


def _check_knn_batch(batch_size: int, methods: list[str], affinity: str) -> None:
    if batch_size == 1 and "lame" in methods and affinity == "knn":
        raise ValueError("batch_size=1 with lame_affinity=knn: a batch of one image has no neighbours, so LAME "
                         "would return the model's probabilities unchanged; use batch_size >= 2 (or another "
                         "affinity)")


class _AdaptChoice(BaseModel):
    """The leading choices of tta.adapt (first in the form)."""

    model_config = ConfigDict(extra="forbid")

    method: MethodName = Field("lame", description="none, bn-stats (test-batch BatchNorm statistics, no "
                                                   "learning), tent, lame or cafa")
    corruption: CorruptionName = Field("gaussian_noise", description="covariate shift applied to the stream")
    severity: int = Field(5, ge=1, le=5, description="corruption severity 1-5")
    order: OrderName = Field("class-sorted", description="label shift: iid, class-sorted or dirichlet")


class AdaptParams(MethodSettings, _Stream, _AdaptChoice):
    """Run one adaptation method over one corrupted, ordered test stream, with the unadapted model alongside."""

    model_config = _stream_form("method", "order", ["onnx_file", "thumbnails"])

    onnx_file: str = Field("", description="with the onnx backend: an exported model with outputs logits and "
                                            "features; empty = export the source model into the run")
    thumbnails: int = Field(48, ge=0, le=512, description="LAME: most changed predictions shown as thumbnails")

    @model_validator(mode="after")
    def _batch_of_one(self) -> AdaptParams:
        _check_knn_batch(self.batch_size, [self.method], self.lame_affinity)
        return self


class _BenchmarkGrid(BaseModel):
    """The grid of tta.benchmark (first in the form)."""

    model_config = ConfigDict(extra="forbid")

    methods: list[MethodName] = Field(default_factory=lambda: ["none", "tent", "lame", "cafa"],
                                      description="methods to compare")
    corruptions: list[CorruptionName] = Field(default_factory=lambda: list(ALL_CORRUPTIONS),
                                              description="corruptions to apply")
    severities: list[int] = Field(default_factory=lambda: [3, 5], description="severities 1-5")
    orders: list[OrderName] = Field(default_factory=lambda: ["iid", "class-sorted"], description="stream orders")


class BenchmarkParams(MethodSettings, _Stream, _BenchmarkGrid):
    """Accuracy of every method on every corruption x severity x stream order; written as a table and a CSV."""

    model_config = _stream_form("methods", "orders", [])

    @model_validator(mode="after")
    def _valid(self) -> BenchmarkParams:
        bad = [s for s in self.severities if not 1 <= s <= 5]
        if bad or not self.severities:
            raise ValueError(f"severities must be a non-empty list of values 1-5 (got {self.severities})")
        for name in ("methods", "corruptions", "orders"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        _check_knn_batch(self.batch_size, list(self.methods), self.lame_affinity)
        return self


class SourceStatsParams(_Source):
    """Compute CAFA's class-conditional source feature statistics once and save them for reuse."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"groups": _SOURCE_GROUP, "paths": {"data": "dir"}})

    per_class: int = Field(100, ge=2, le=100000, description="source images per class")
    covariance: Literal["class", "tied"] = Field("class", description="one covariance per class (the paper), or "
                                                                       "pooled (the stable variant)")
    shrinkage: float = Field(0.0, ge=0, le=1, description="covariance shrinkage towards tr(S)/d I (the paper: 0)")
