"""Parameter models of the CLIP heatmaps plugin (cheap to import: used when plugins are listed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.api import VersionedParams

_ATTRIBUTION = ["template", "text_layers", "epsilon", "image_start_layer", "word_rules"]
_PAIR_OPTIONS = ["image_root", "demo_scenes"]


class ClipFields(BaseModel):
    """Which CLIP to load (the host CLIP service: zoo, local file, ``local-dir:``, or ``random``)."""

    model: str = Field("tiny-clip", description="zoo model id (e.g. 'tiny-clip'), open_clip architecture (e.g. "
                                                "ViT-B-32) or 'local-dir:/folder'")
    weights: str = Field("", description="local weights file, 'random' for random initialisation, or a hub tag "
                                         "when online; empty: the zoo's / folder's own weights")


class AttributionFields(BaseModel):
    """CLIP4DM's knobs. ``epsilon`` is on the cosine scale and depends on the backbone and precision."""

    template: str = Field("A photo depicts ", description="text put before every caption (CLIPScore's prefix); "
                                                          "its words are scored but never flagged")
    text_layers: int = Field(3, ge=1, le=64, description="k: the last k text layers whose attention is attributed")
    epsilon: float = Field(-5e-5, le=0, description="threshold mode flags words whose attribution is below this "
                                                    "(cosine scale; tune it per backbone)")
    image_start_layer: int = Field(0, ge=-64, le=63, description="first vision layer of the relevance rollout "
                                                                 "(0: all layers, -1: the last only)")
    word_rules: Literal["reference", "workbench"] = Field(
        "reference", description="words from BPE tokens: 'reference' as CLIP4DM (naver-ai/clip4dm @ cb9e52d): split "
                                 "on spaces only, threshold mode skips words contained in '.,!\"?;:\" ', "
                                 "most-negative mode may pick punctuation; 'workbench' (the earlier rules): split on "
                                 "any whitespace, punctuation-only words (.,!\"?;:' ) never flagged in either mode "
                                 "(effect: docs/fidelity.md)")


class PairsFields(BaseModel):
    """One pair (``image`` + ``caption``) or many (``pairs``)."""

    image: str = Field(
        "", json_schema_extra={"path": "file"},
        description="an image file (with 'caption')")
    caption: str = Field("", description="the caption of 'image'")
    pairs: str = Field(
        "", json_schema_extra={"path": "file"},
        description="many pairs: a folder (image + same-named .txt), a .csv (image, caption), "
                    "a .jsonl (image, caption, optional foil_index / word_labels) or a FOIL "
                    "COCO .json")
    image_root: str = Field("", description="folder that relative image paths in 'pairs' start from (default: "
                                            "the pairs file's folder)")
    demo_scenes: int = Field(3, ge=1, le=500, description="with neither 'image' nor 'pairs': how many shapes-world "
                                                          "test scenes to use, each with its true and a foil caption")


class MisalignmentParams(VersionedParams, ClipFields, AttributionFields, PairsFields):
    """CLIP4DM word attributions, flagged words, CLIPScore / F-CLIPScore and image relevance maps."""

    model_config = ConfigDict(json_schema_extra={
        "paths": {"model": ""},
        "groups": {"Input options": _PAIR_OPTIONS, "Method settings": _ATTRIBUTION,
                   "Views": ["image_maps", "word_maps", "words", "max_views"]},
        "show_when": {"epsilon": {"mode": ["threshold"]}, "image_start_layer": {"image_maps": [True]}}})

    revision = 2
    removed = {"opacity": (2, "display options belong to the heatmap views (report and GUI), not to the task"),
               "colormap": (2, "display options belong to the heatmap views (report and GUI), not to the task")}

    mode: Literal["threshold", "most_negative"] = Field(
        "threshold", description="threshold: flag every word below epsilon; most_negative: flag the lowest word")
    image_maps: bool = Field(True, description="compute the vision tower's relevance maps (unsigned and signed)")
    word_maps: Literal["flagged", "all", "none"] = Field(
        "flagged", description="per-word image maps for the flagged words, every word, or none")
    words: list[str] = Field(default_factory=list, description="caption words to map (overrides word_maps)")
    max_views: int = Field(4, ge=0, le=100, description="batch mode: detailed views for the most misaligned pairs")


class FoilBenchmarkParams(VersionedParams, ClipFields, AttributionFields):
    """Localisation of the swapped word and true-vs-foil AP on the shapes world's one-word foils."""

    model_config = ConfigDict(json_schema_extra={
        "paths": {"model": ""},
        "groups": {"Scenes": ["split", "data_seed", "image_size", "min_objects", "max_objects"],
                   "Method settings": _ATTRIBUTION, "Views": ["n_examples", "image_maps"]},
        "show_when": {"image_start_layer": {"image_maps": [True]}}})

    n_scenes: int = Field(200, ge=1, le=100000, description="scenes; each gives its true caption and its foils")
    split: Literal["train", "test", "novel"] = Field("test", description="shapes-world split")
    data_seed: int = Field(0, description="seed of the shapes world")
    image_size: int = Field(64, ge=32, le=512, description="scene size in pixels")
    min_objects: int = Field(2, ge=1, le=4, description="objects per scene, at least (relation foils need 2)")
    max_objects: int = Field(3, ge=1, le=4, description="objects per scene, at most")
    kinds: list[Literal["colour", "shape", "size", "relation"]] = Field(
        default_factory=lambda: ["colour", "shape", "size", "relation"], description="foil kinds to test")
    n_examples: int = Field(8, ge=0, le=64, description="foil examples shown with their word maps")
    image_maps: bool = Field(True, description="also score the signed image map: is its most negative cell in the "
                                               "foiled object's box (pointing game)")


class ScoreParams(VersionedParams, ClipFields, PairsFields):
    """CLIPScore of image-caption pairs, on torch or on the exported ONNX encoders."""

    model_config = ConfigDict(json_schema_extra={
        "paths": {"model": ""},
        "groups": {"Input options": [*_PAIR_OPTIONS, "template"], "Advanced": ["onnx_dir", "batch_size"]}})

    template: str = Field("A photo depicts ", description="text put before every caption")
    onnx_dir: str = Field("", description="onnx backend: a folder with image_encoder.onnx / text_encoder.onnx to "
                                          "use; empty: the host exports the encoders once (parity-checked) and "
                                          "caches them by weights")
    batch_size: int = Field(32, ge=1, le=4096)
