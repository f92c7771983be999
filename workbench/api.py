"""The public API for plugins. A plugin imports the host only from here.

Importing this module is cheap (no numpy, torch or Qt): hook modules use it at listing time, so only the
manifest types (specs, params, hookimpl, UserError) load eagerly; every other name is imported on first use.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from workbench.core.errors import UserError
from workbench.core.hookspecs import hookimpl
from workbench.core.params import VersionedParams
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
    from workbench.clip import (
        CaptionTruncatedWarning,
        ClipLoadError,
        LoadedClip,
        is_offline,
        load_clip,
        save_clip_dir,
    )
    from workbench.core.assets import package_path, user_zoo
    from workbench.core.catalog import find_recipe, load_sample, load_zoo_model, sample_spec, zoo_card, zoo_weights
    from workbench.core.checkpoints import CheckpointError, load_into, load_state_dict, save_safetensors
    from workbench.core.classifier import ClassifierOutputs, FeaturesAndLogits, check_classifier
    from workbench.core.context import Cancelled, Progress, RunContext
    from workbench.core.distributed import Distributed
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

_LAZY_MODULES = {
    "workbench.clip": ("CaptionTruncatedWarning", "ClipLoadError", "LoadedClip", "is_offline", "load_clip",
                       "save_clip_dir"),
    "workbench.core.assets": ("package_path", "user_zoo"),
    "workbench.core.catalog": ("find_recipe", "load_sample", "load_zoo_model", "sample_spec", "zoo_card",
                               "zoo_weights"),
    "workbench.core.checkpoints": ("CheckpointError", "load_into", "load_state_dict", "save_safetensors"),
    "workbench.core.classifier": ("ClassifierOutputs", "FeaturesAndLogits", "check_classifier"),
    "workbench.core.context": ("Cancelled", "Progress", "RunContext"),
    "workbench.core.distributed": ("Distributed",),
    "workbench.core.images": ("IMAGE_SUFFIXES", "FolderImages", "ImageReadError", "read_image",
                              "read_image_folder", "read_image_tree"),
    "workbench.core.inference": ("InferenceSession",),
    "workbench.core.onnx_export": ("ExportError", "ExportReport", "export_onnx", "onnx_session"),
    "workbench.core.results": ("Curves", "EmbeddingScatter", "Heatmap", "HeatmapGrid", "ImageGrid", "ImagePairs",
                               "MetricsTable", "Regions", "Registration", "Result", "ScoreSet", "TokenScores"),
    "workbench.core.samples": ("CaptionedScene", "CaptionedScenes", "Foil", "LabelledImageSet", "SceneObject",
                               "to_uint8"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
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
