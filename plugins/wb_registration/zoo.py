"""The VBReg zoo model: where its weights live, how they are saved with their architecture, and its card."""

from __future__ import annotations

from pathlib import Path

from wb_registration.vbreg_net import VBRegNet
from workbench.api import CheckpointError, ModelCard, load_into, save_safetensors, zoo_weights

ZOO_ID = "vbreg"
RECIPE = "zoo-vbreg"


def save_model(net: VBRegNet, path: Path, extra: dict[str, str] | None = None) -> None:
    meta = {"architecture": "VBRegNet", **{k: str(v) for k, v in net.config.items()}, **(extra or {})}
    save_safetensors(net.state_dict(), path, metadata=meta)


def load_model(path: Path | str | None = None) -> VBRegNet:
    """Build the network from the safetensors metadata and load its weights (eval mode)."""
    from safetensors import safe_open

    path = Path(path) if path else zoo_weights(ZOO_ID)
    if not path.is_file():
        raise CheckpointError(f"vbreg_checkpoint: {path} does not exist (give VBReg weights, .safetensors or .pt)")
    meta: dict[str, str] = {}
    if path.suffix == ".safetensors":
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
    net = VBRegNet(layers=int(meta.get("layers", 4)), dim=int(meta.get("dim", 32)),
                   hidden=int(meta.get("hidden", 32)), latent=int(meta.get("latent", 16)),
                   label_dim=int(meta.get("label_dim", 16)), sigma_d=float(meta.get("sigma_d", 0.03)))
    load_into(net, path)
    return net.eval()


def load_card(card: ModelCard, weights: Path | str | None = None) -> VBRegNet:
    """The card's loader (``load_zoo_model("vbreg")``), or ``weights=`` another checkpoint of the network."""
    return load_model(weights or card.weights_path)


def loss_description(classification: str = "bce", spectral: str = "mse", kl_reduction: str = "mean") -> str:
    """The card's words for the training loss options (train-vbreg's classification_loss etc.)."""
    if (classification, spectral, kl_reduction) == ("bce", "mse", "mean"):
        return ("trained with VBReg's released loss (Jiang-HB/VBReg @ 6e62289): 0.5 (BCE + MSE spectral matching) "
                "with posterior and with prior latents + 0.5 balanced KL averaged over layers x Q/K/V")
    return (f"trained with classification_loss={classification}, spectral_loss={spectral}, "
            f"kl_reduction={kl_reduction}")


def make_card(metrics: dict[str, float], config: dict, loss: str = "") -> ModelCard:
    return ModelCard(
        id=ZOO_ID, plugin="registration", title="VBReg variational non-local correspondence network (CPU-sized)",
        weights="model.safetensors",
        architecture=(f"VBRegNet(layers={config['layers']}, dim={config['dim']}, hidden={config['hidden']}, "
                      f"latent={config['latent']}); GRU states + Gaussian latents on Q/K/V, beta-weighted "
                      "non-local attention, MLP classifier; input: (N, 6) matches"),
        recipe=RECIPE,
        data=("synthetic correspondences (wb_registration generator): DEM terrain and blob shapes, any rotation, "
              "noise 0.005, surface/box outliers at ratios 0.5-0.99, eps 0.03" + (f"; {loss}" if loss else "")),
        metrics=metrics, loader="wb_registration.zoo:load_card", exporter="wb_registration.export:export_zoo")
