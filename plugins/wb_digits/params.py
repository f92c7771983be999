"""Parameter models of the digits plugin (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from workbench.api import VersionedParams


class TrainClassifierParams(VersionedParams):
    """Train the small digits CNN on the in-distribution classes (the zoo recipe's defaults)."""

    model_config = ConfigDict(json_schema_extra={
        "groups": {"Advanced": ["weight_decay", "width", "max_epochs", "resume"]}})

    revision = 2
    renamed = {"save_to_zoo": (2, "publish")}

    epochs: int = Field(15, ge=1, le=500, description="passes over the ID training split")
    batch_size: int = Field(64, ge=1, le=4096)
    lr: float = Field(3e-3, gt=0, le=1.0, description="AdamW learning rate (one-cycle schedule)")
    weight_decay: float = Field(5e-4, ge=0)
    width: int = Field(32, ge=4, le=256, description="channels of the first conv block")
    max_epochs: int = Field(0, ge=0, description="stop after this many epochs (0: all); a later run can resume")
    resume: str = Field("", description="a training checkpoint (artifacts/checkpoint.pt) or its run folder")
    publish: bool = Field(False, description="publish the weights and card as zoo model 'digits-cnn' in the user's "
                                             "zoo ($WORKBENCH_HOME/models; a previous version is kept)")
