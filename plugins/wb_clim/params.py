"""Parameter models of the CLIM plugin (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.api import VersionedParams

_SCENES = ["data_seed", "image_size", "min_objects", "max_objects"]
_REGION = ["template", "inference_size", "temperature"]


class ClipFields(BaseModel):
    """Which CLIP to load (the host CLIP service: zoo id, open_clip name + weights, ``local-dir:``)."""

    model: str = Field("tiny-clip", description="zoo model id (e.g. 'tiny-clip'), open_clip architecture (e.g. "
                                                "ViT-B-32, with weights) or 'local-dir:/folder'")
    weights: str = Field("", description="local weights file, 'random' for random initialisation, or a hub tag "
                                         "when online; empty: the zoo's / folder's own weights")


class RegionFields(BaseModel):
    """How boxes are scored against the vocabulary."""

    template: str = Field("a {}", description="prompt template; '{}' is replaced by each class name")
    inference_size: int = Field(0, ge=0, le=4096, description="shorter image side in pixels for the dense map "
                                                              "(positional embeddings interpolated); 0: the "
                                                              "model's own image size")
    temperature: float = Field(0.0, ge=0, le=1000, description="softmax temperature of box-class cosines; 0: the "
                                                               "model's logit_scale.exp() (F-VLM uses 75)")


class SceneFields(BaseModel):
    """The shapes world's annotated test scenes."""

    data_seed: int = Field(0, ge=0, description="seed of the shapes world")
    image_size: int = Field(64, ge=32, le=512, description="scene size in pixels")
    min_objects: int = Field(2, ge=1, le=4, description="objects per scene, at least")
    max_objects: int = Field(4, ge=1, le=4, description="objects per scene, at most")


class RegionScoreParams(VersionedParams, ClipFields, RegionFields, SceneFields):
    """Open-vocabulary scoring of boxes: per-box class probabilities, top-k labels, dense class maps."""

    model_config = ConfigDict(json_schema_extra={
        "paths": {"model": ""},
        "groups": {"Input": ["image", "boxes", "image_root", "classes"], "Scenes": ["n_scenes", *_SCENES],
                   "Method settings": _REGION, "Views": ["top_k", "max_views"]}})

    image: str = Field(
        "", json_schema_extra={"path": "file"},
        description="an image file (with 'boxes'); empty: shapes test scenes, or the images "
                    "of a COCO 'boxes' file")
    boxes: str = Field(
        "", json_schema_extra={"widget": "boxes", "image_field": "image"},
        description="a JSON file of boxes [{\"box\": [x0, y0, x1, y1], \"label\": optional}, "
                    "...] in the image's pixels, or COCO annotations (images, annotations with "
                    "bbox [x, y, w, h], categories); empty: the scenes' ground-truth boxes")
    image_root: str = Field("", description="folder that COCO file names start from (default: the file's folder)")
    classes: list[str] = Field(default_factory=list, description="class names; empty: the shapes world's colour x "
                                                                 "shape vocabulary (a COCO file: its categories)")
    n_scenes: int = Field(4, ge=1, le=1000, description="without 'image'/'boxes': how many shapes test scenes")
    top_k: int = Field(5, ge=1, le=100, description="labels listed per box")
    max_views: int = Field(4, ge=0, le=100, description="images drawn with their boxes and class maps")


class RegionEvaluateParams(VersionedParams, ClipFields, RegionFields, SceneFields):
    """Region classification and image zero-shot accuracy of a CLIP on annotated shapes scenes."""

    model_config = ConfigDict(json_schema_extra={
        "paths": {"model": ""},
        "groups": {"Scenes": ["n_scenes", "n_single", *_SCENES], "Method settings": _REGION,
                   "Advanced": ["batch_size", "n_examples"]}})

    n_scenes: int = Field(300, ge=1, le=100_000, description="test scenes with 2-4 objects (every object a box)")
    n_single: int = Field(300, ge=0, le=100_000, description="one-object test scenes for image-level zero-shot "
                                                             "(the tiny CLIP card's set)")
    batch_size: int = Field(64, ge=1, le=4096)
    n_examples: int = Field(4, ge=0, le=64, description="scenes drawn with their predicted boxes")


class MosaicParams(VersionedParams):
    """CLIM's training-time mosaics of captioned shapes scenes with their pseudo-boxes (for teaching and checks)."""

    grids: list[int] = Field(default_factory=lambda: [2, 3], description="mosaic grid sizes N (N x N cells); "
                                                                        "CLIM trains with 2, 3 and 4")
    batch_size: int = Field(13, ge=1, le=1024, description="captioned scenes split as in CLIM: each group of "
                                                           "sum(N^2) scenes gives one mosaic per grid, the rest "
                                                           "stay single")
    split: str = Field("train", description="shapes-world split the scenes come from (train, test, novel)")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world")
    image_size: int = Field(64, ge=16, le=512, description="scene (cell) size in pixels")


class TuneParams(VersionedParams, ClipFields):
    """CLIM tuning: mosaic region embeddings against their captions, last vision blocks only, weight ensemble.

    Revision 2 trains on one-object scenes by default; revision-1 parameters keep their 1-4 object scenes.
    Revision 3 names the cell scale: the reference's (mosaics at image size x largest grid, CLIM's fixed mosaic
    size) is the default again, each mosaic at its own size is ``cell_scale="own"`` (revision 2's behaviour, which
    its parameters keep).
    """

    revision: ClassVar[int] = 3

    @classmethod
    def upgrade_step(cls, values: dict[str, Any], to_revision: int) -> dict[str, Any]:
        if to_revision == 2:
            grids = values.get("grids") or [2, 3, 4]
            values = {"min_objects": 1, "max_objects": 4, **values}
            if not values.get("mosaic_size"):
                values["mosaic_size"] = int(values.get("image_size", 64)) * max(grids)
        if to_revision == 3 and not values.get("mosaic_size"):
            values = {"cell_scale": "own", **values}
        return values

    model_config = ConfigDict(json_schema_extra={
        "paths": {"model": "", "captions": "file", "image_root": "dir"},
        "groups": {"Data": ["captions", "image_root", "data_seed", "image_size", "min_objects", "max_objects"],
                   "Mosaics": ["grids", "mosaic_size", "cell_scale"],
                   "Training": ["unlocked_blocks", "lr", "warmup_steps", "weight_decay", "alpha"],
                   "Evaluation": ["eval_scenes"], "Advanced": ["checkpoint_every", "stop_after", "resume"]}})

    steps: int = Field(300, ge=1, le=1_000_000, description="optimizer steps; step k uses train scenes k*B .. k*B+B-1")
    batch_size: int = Field(32, ge=1, le=4096, description="captioned scenes per step (CLIM: 32 per GPU)")
    grids: list[int] = Field(default_factory=lambda: [2, 3, 4], description="mosaic grid sizes; each group of "
                                                                           "sum(N^2) scenes gives one mosaic each")
    mosaic_size: int = Field(0, ge=0, le=4096, description="shorter side of the mosaics' dense map in pixels; 0: "
                                                           "as cell_scale says")
    cell_scale: Literal["reference", "own"] = Field(
        "reference", description="without mosaic_size: 'reference' computes every mosaic's dense map at image size x "
                                 "largest grid (CLIM's one mosaic size, 1024 px for 224 px models, so small grids' "
                                 "cells are enlarged); 'own' at each mosaic's own size (grid x image size: every "
                                 "cell keeps the scenes' token scale)")
    unlocked_blocks: int = Field(2, ge=0, le=64, description="last vision blocks trained (CLIM: 6 of 12); the text "
                                                             "tower, ln_post and proj stay frozen")
    lr: float = Field(1e-4, gt=0, le=1.0, description="AdamW peak learning rate (CLIM: 1e-5), linear warmup, "
                                                      "cosine decay")
    warmup_steps: int = Field(20, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    alpha: float = Field(0.7, ge=0, le=1, description="saved weights: alpha * tuned + (1 - alpha) * original")
    captions: str = Field("", description="a captioned image set to tune on: a folder of images with same-named "
                                          ".txt captions, a CSV or JSONL with 'image' and 'caption', or COCO "
                                          "captions JSON; empty: the shapes world's train scenes")
    image_root: str = Field("", description="folder that the captions file's image paths start from (default: "
                                            "the file's folder)")
    data_seed: int = Field(0, ge=0, description="seed of the shapes world, and of the order of a captions set")
    image_size: int = Field(64, ge=16, le=512, description="scene size in pixels; a captions set's images are "
                                                           "centre-cropped to squares of this size")
    min_objects: int = Field(1, ge=1, le=4, description="objects per training scene, at least")
    max_objects: int = Field(1, ge=1, le=4, description="objects per training scene, at most; one-object scenes "
                                                        "give cells whose caption names just the object in them")
    eval_scenes: int = Field(100, ge=1, le=100_000, description="test scenes (2-4 objects) for the before/after "
                                                                "region accuracy, and as many one-object scenes for "
                                                                "the image-level zero-shot accuracy")
    checkpoint_every: int = Field(50, ge=1)
    stop_after: int = Field(0, ge=0, description="end this session after this many steps in total (0: run to "
                                                 "'steps'); continue later with resume")
    resume: str = Field("", description="a training checkpoint or its run folder")
    publish: bool = Field(False, description="publish the saved weights and their card as zoo model "
                                             "'clim-tiny-clip' in the user's zoo ($WORKBENCH_HOME/models)")
