"""Loading and saving the digits CNN; its architecture travels in the safetensors metadata."""

from __future__ import annotations

import json
from pathlib import Path

from wb_digits.model import DigitsCNN
from workbench.api import CheckpointError, load_into, models_dir, save_safetensors

ZOO_ID = "digits-cnn"


def zoo_weights() -> Path:
    return models_dir() / ZOO_ID / "model.safetensors"


def save_model(model: DigitsCNN, path: Path) -> None:
    meta = {"architecture": "DigitsCNN", "num_classes": str(model.num_classes), "width": str(model.width),
            "in_channels": str(model.in_channels)}
    save_safetensors(model.state_dict(), path, metadata=meta)


def load_model(path: Path | str | None = None) -> DigitsCNN:
    """Load a DigitsCNN from ``path`` (default: the zoo's weights), in eval mode."""
    from safetensors import safe_open

    path = Path(path) if path else zoo_weights()
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no digits CNN weights. Regenerate the zoo model with "
            "`workbench batch resources/recipes/zoo-digits-cnn.yaml` or pass a weights file."
        )
    meta: dict[str, str] = {}
    if path.suffix == ".safetensors":
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
    model = DigitsCNN(num_classes=int(meta.get("num_classes", 6)), width=int(meta.get("width", 32)),
                      in_channels=int(meta.get("in_channels", 1)))
    load_into(model, path)
    return model.eval()


def write_card(folder: Path, metrics: dict[str, float], params: dict) -> Path:
    card = {
        "id": ZOO_ID,
        "title": "Digits CNN (ID classes 0-5)",
        "weights": f"{ZOO_ID}/model.safetensors",
        "architecture": f"DigitsCNN(width={params['width']}): 3 conv blocks + BatchNorm, GAP, linear; 1x32x32 in",
        "recipe": "resources/recipes/zoo-digits-cnn.yaml",
        "data": "digits world, seed 0: scikit-learn load_digits, classes 0-5, stratified 70/30 split",
        "metrics": metrics,
        "exporter": "wb_digits.export:export_classifier",
    }
    path = folder / "card.json"
    path.write_text(json.dumps(card, indent=1) + "\n")
    return path
