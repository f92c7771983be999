"""Loading and saving the digits CNN (its architecture travels in the safetensors metadata), and its card."""

from __future__ import annotations

from pathlib import Path

from wb_digits.model import DigitsCNN
from workbench.api import CheckpointError, ModelCard, load_into, save_safetensors, zoo_weights

ZOO_ID = "digits-cnn"
RECIPE = "zoo-digits-cnn"


def save_model(model: DigitsCNN, path: Path) -> None:
    meta = {"architecture": "DigitsCNN", "num_classes": str(model.num_classes), "width": str(model.width),
            "in_channels": str(model.in_channels)}
    save_safetensors(model.state_dict(), path, metadata=meta)


def load_model(path: Path | str | None = None) -> DigitsCNN:
    """Load a DigitsCNN from ``path`` (default: the zoo's weights), in eval mode."""
    from safetensors import safe_open

    path = Path(path) if path else zoo_weights(ZOO_ID)
    if not path.is_file():
        raise CheckpointError(f"weights: {path} does not exist (give a DigitsCNN .safetensors or state dict)")
    meta: dict[str, str] = {}
    if path.suffix == ".safetensors":
        try:
            with safe_open(str(path), "pt") as fh:
                meta = fh.metadata() or {}
        except Exception as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    model = DigitsCNN(num_classes=int(meta.get("num_classes", 6)), width=int(meta.get("width", 32)),
                      in_channels=int(meta.get("in_channels", 1)))
    load_into(model, path)
    return model.eval()


def load_card(card: ModelCard, weights: Path | str | None = None) -> DigitsCNN:
    """The card's loader: ``load_zoo_model("digits-cnn")``, or ``weights=`` a file of the same architecture."""
    return load_model(weights or card.weights_path)


def make_card(metrics: dict[str, float], params: dict) -> ModelCard:
    return ModelCard(
        id=ZOO_ID, plugin="digits", title="Digits CNN (ID classes 0-5)", weights="model.safetensors",
        architecture=f"DigitsCNN(width={params['width']}), 3 conv blocks + BatchNorm, GAP, linear head; input 1x32x32",
        recipe=RECIPE, data="digits world, seed 0: scikit-learn load_digits, classes 0-5, stratified 70/30 split",
        metrics=metrics, loader="wb_digits.zoo:load_card", exporter="wb_digits.export:export_classifier")
