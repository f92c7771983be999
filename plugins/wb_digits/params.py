"""Parameter models of the digits plugin (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrainClassifierParams(BaseModel):
    """Train the small digits CNN on the in-distribution classes (the zoo recipe's defaults)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(15, ge=1, le=500, description="passes over the ID training split")
    batch_size: int = Field(64, ge=1, le=4096)
    lr: float = Field(3e-3, gt=0, le=1.0, description="AdamW learning rate (cosine schedule)")
    weight_decay: float = Field(5e-4, ge=0)
    width: int = Field(32, ge=4, le=256, description="channels of the first conv block")
    save_to_zoo: bool = Field(False, description="also write the weights and card into models/digits-cnn/")
