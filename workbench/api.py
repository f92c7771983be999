"""The public API for plugins. A plugin imports the host only from here.

Importing this module is cheap (no torch, no Qt): hook modules use it at listing time. The classifier contract
(``FeaturesAndLogits``, ``ClassifierOutputs``, ``check_classifier``) needs torch and is imported on first use.
"""

from typing import TYPE_CHECKING, Any

from workbench.clip import CaptionTruncatedWarning, ClipLoadError, LoadedClip, is_offline, load_clip, save_clip_dir
from workbench.core.assets import package_path, user_zoo
from workbench.core.catalog import find_recipe, load_sample, load_zoo_model, sample_spec, zoo_card, zoo_weights
from workbench.core.checkpoints import CheckpointError, load_into, load_state_dict, save_safetensors
from workbench.core.context import Cancelled, Progress, RunContext
from workbench.core.distributed import Distributed
from workbench.core.errors import UserError
from workbench.core.hookspecs import hookimpl
from workbench.core.images import (
    IMAGE_SUFFIXES,
    FolderImages,
    ImageReadError,
    read_image,
    read_image_folder,
    read_image_tree,
)
from workbench.core.inference import InferenceSession
from workbench.core.onnx_export import ExportError, ExportReport, export_onnx, onnx_session
from workbench.core.params import VersionedParams
from workbench.core.results import (
    Curves,
    EmbeddingScatter,
    Heatmap,
    HeatmapGrid,
    ImageGrid,
    ImagePairs,
    MetricsTable,
    Regions,
    Registration,
    Result,
    ScoreSet,
    TokenScores,
)
from workbench.core.samples import (
    CaptionedScene,
    CaptionedScenes,
    Foil,
    LabelledImageSet,
    SceneObject,
    to_uint8,
)
from workbench.core.specs import (
    Family,
    FamilySpec,
    ModelCard,
    ResultKindSpec,
    SampleSpec,
    TaskSpec,
    resolve_entry,
)

if TYPE_CHECKING:
    from workbench.core.classifier import ClassifierOutputs, FeaturesAndLogits, check_classifier

_LAZY = {"FeaturesAndLogits": "workbench.core.classifier", "ClassifierOutputs": "workbench.core.classifier",
         "check_classifier": "workbench.core.classifier"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'workbench.api' has no attribute {name!r}")


__all__ = [
    "CaptionTruncatedWarning", "CaptionedScene", "CaptionedScenes", "Cancelled", "CheckpointError",
    "ClassifierOutputs", "ClipLoadError", "Curves", "Distributed", "EmbeddingScatter", "ExportError",
    "ExportReport", "Family",
    "FamilySpec", "FeaturesAndLogits", "Foil", "FolderImages", "Heatmap", "HeatmapGrid", "IMAGE_SUFFIXES",
    "ImageGrid", "ImagePairs", "ImageReadError", "InferenceSession", "LabelledImageSet", "LoadedClip",
    "MetricsTable", "ModelCard", "Progress", "Regions", "Registration", "Result", "ResultKindSpec", "RunContext",
    "SampleSpec", "SceneObject", "ScoreSet", "TaskSpec", "TokenScores", "UserError", "VersionedParams",
    "check_classifier", "export_onnx", "is_offline", "find_recipe", "hookimpl", "load_clip", "load_into", "load_sample",
    "load_state_dict", "load_zoo_model", "onnx_session", "package_path", "read_image", "read_image_folder",
    "read_image_tree", "resolve_entry", "sample_spec", "save_clip_dir", "save_safetensors", "to_uint8",
    "user_zoo", "zoo_card", "zoo_weights",
]
