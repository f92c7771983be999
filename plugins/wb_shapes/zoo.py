"""The zoo's tiny CLIP card: what was trained, on which data, and the measured held-out numbers."""

from __future__ import annotations

import json
from pathlib import Path

ZOO_ID = "tiny-clip"


def _extras(params: dict) -> str:
    parts = [f"foil negatives {'on' if params['foil_negatives'] else 'off'}"]
    if params.get("shape_foil_share"):
        parts.append(f"shape foil share {params['shape_foil_share']}")
    if params.get("single_object_fraction"):
        parts.append(f"one-object share {params['single_object_fraction']} (scenes from index 50,000,000 on)")
    return "; " + ", ".join(parts)


def write_card(folder: Path, metrics: dict[str, float], params: dict) -> Path:
    card = {
        "id": ZOO_ID,
        "title": "Tiny CLIP trained on the shapes world",
        "weights": f"{ZOO_ID}/open_clip_model.safetensors",
        "architecture": "open_clip CLIP 'wb-tiny-clip': ViT 64px/patch 8, width 96, 3 layers, 3 heads; "
                        "text transformer width 64, 4 heads, 3 layers, context 77, CLIP BPE vocabulary 49408; embed 64 "
                        "(float16 storage, loads as float32; also a local-dir: folder)",
        "recipe": "resources/recipes/zoo-tiny-clip.yaml",
        "data": f"shapes world seed {params['data_seed']}: train split scenes "
                f"0..{params['steps'] * params['batch_size'] - 1} (fresh scenes every step, 1-4 objects, "
                f"7 colour-shape combinations never shown{_extras(params)}); metrics on the disjoint test split "
                f"and on the novel split (held-out combinations)",
        "metrics": {k: round(float(v), 4) for k, v in metrics.items()},
        "exporter": "wb_shapes.export:export_tiny_clip",
    }
    path = folder / "card.json"
    path.write_text(json.dumps(card, indent=1) + "\n")
    return path
