"""The zoo's tiny CLIP card: what was trained, on which data, and the measured held-out numbers."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.api import ModelCard

ZOO_ID = "tiny-clip"
ARCHITECTURE = "wb-tiny-clip"


def _extras(params: dict) -> str:
    parts = [f"foil negatives {'on' if params['foil_negatives'] else 'off'}"]
    if params.get("shape_foil_share"):
        parts.append(f"shape foil share {params['shape_foil_share']}")
    if params.get("single_object_fraction"):
        parts.append(f"one-object share {params['single_object_fraction']} (scenes from index 50,000,000 on)")
    if params.get("counterfactual_fraction"):
        parts.append(f"shape counterfactual images for a share {params['counterfactual_fraction']} of scenes "
                     "(never of a held-out combination)")
    return "; " + ", ".join(parts)


def describe_architecture(model_cfg: dict) -> str:
    """The card's architecture line, read from an open_clip model config (so it cannot drift from the weights)."""
    v, t = model_cfg["vision_cfg"], model_cfg["text_cfg"]
    return (f"open_clip CLIP 'wb-tiny-clip': ViT {v['image_size']}px/patch {v['patch_size']}, width {v['width']}, "
            f"{v['layers']} layers, {v['width'] // v['head_width']} heads; text transformer width {t['width']}, "
            f"{t['heads']} heads, {t['layers']} layers, context {t['context_length']}, CLIP BPE vocabulary "
            f"{t['vocab_size']}; embed {model_cfg['embed_dim']} (float16 storage, loads as float32; also a local-dir: "
            "folder)")


def make_card(folder: Path, metrics: dict[str, float], params: dict) -> ModelCard:
    """The card of a tiny CLIP saved in ``folder`` (an open_clip folder the host's CLIP service loads)."""
    model_cfg = json.loads((folder / "open_clip_config.json").read_text())["model_cfg"]
    return ModelCard(
        id=ZOO_ID, plugin="shapes-clip", title="Tiny CLIP trained on the shapes world",
        weights="open_clip_model.safetensors", architecture=describe_architecture(model_cfg), recipe="zoo-tiny-clip",
        data=f"shapes world seed {params['data_seed']}: train split scenes "
             f"0..{params['steps'] * params['batch_size'] - 1} (fresh scenes every step, 1-4 objects, "
             f"7 colour-shape combinations never shown{_extras(params)}); metrics on the disjoint test split "
             f"and on the novel split (held-out combinations)",
        metrics={k: round(float(v), 4) for k, v in metrics.items()}, loader="workbench.clip.loading:load_card",
        exporter="wb_shapes.export:export_tiny_clip")
