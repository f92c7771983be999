"""The public API for plugins. A plugin imports the host only from here.

Importing this module is cheap (no torch, no Qt): hook modules use it at listing time.
"""

from workbench.clip import CaptionTruncatedWarning, ClipLoadError, LoadedClip, load_clip, save_clip_dir
from workbench.core.checkpoints import CheckpointError, load_into, load_state_dict, save_safetensors
from workbench.core.context import Cancelled, Progress, RunContext
from workbench.core.hookspecs import hookimpl
from workbench.core.images import (
    IMAGE_SUFFIXES,
    FolderImages,
    ImageReadError,
    read_image,
    read_image_folder,
    read_image_tree,
)
from workbench.core.onnx_export import ExportError, ExportReport, export_onnx, onnx_session
from workbench.core.paths import models_dir, resources_dir
from workbench.core.results import (
    Curves,
    Heatmap,
    ImageGrid,
    MetricsTable,
    Regions,
    Registration,
    Result,
    ScoreSet,
    TokenScores,
)
from workbench.core.specs import Family, ModelCard, SampleSpec, TaskSpec, resolve_entry

__all__ = [
    "CaptionTruncatedWarning", "ClipLoadError", "LoadedClip", "load_clip", "save_clip_dir",
    "IMAGE_SUFFIXES", "Cancelled", "CheckpointError", "Curves", "ExportError", "ExportReport", "Family",
    "FolderImages", "Heatmap",
    "ImageGrid", "ImageReadError", "MetricsTable", "ModelCard", "Progress", "Registration", "Regions", "Result",
    "RunContext", "SampleSpec", "ScoreSet", "TaskSpec", "TokenScores", "export_onnx", "hookimpl", "load_into",
    "load_state_dict", "models_dir", "onnx_session", "read_image", "read_image_folder", "read_image_tree",
    "resolve_entry", "resources_dir", "save_safetensors",
]
