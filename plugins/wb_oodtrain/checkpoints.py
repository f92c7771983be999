"""Trained models on disk: safetensors whose metadata carries the architecture, method and class names.

Also reads a digits CNN state dict (the zoo's ``digits-cnn``, as a plain cross-entropy model) and names a classifier
whose size does not fit the dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from wb_oodtrain.network import OODNet, build_network
from workbench.api import CheckpointError, ModelCard, load_state_dict, save_safetensors, zoo_weights


def resolve_path(ref: str) -> Path:
    """``zoo:<id>`` -> that zoo model's weights (through its card); anything else is a path."""
    if ref.startswith("zoo:"):
        return zoo_weights(ref[4:])
    path = Path(ref)
    if not path.is_file():
        raise CheckpointError(f"{ref}: no such checkpoint file")
    return path


def save_model(model: OODNet, arch: dict, path: Path, method: str, classes: list[str], detector: str) -> None:
    meta = {"format": "wb_oodtrain", "arch": json.dumps(arch), "method": method, "classes": json.dumps(classes),
            "detector": detector}
    save_safetensors(model.state_dict(), path, metadata=meta)


def _metadata(path: Path) -> dict[str, str]:
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        return fh.metadata() or {}


def _classifier_outputs(state: dict[str, torch.Tensor]) -> int | None:
    for key in ("fc.weight", "fc.linear.weight"):
        if key in state:
            return int(state[key].shape[0])
    return None


class LoadedModel:
    """A network in eval mode with what it was trained as: method, architecture, classes, default detector."""

    def __init__(self, net: OODNet, arch: dict, method: str, classes: list[str], detector: str, path: Path) -> None:
        self.net, self.arch, self.method, self.classes, self.detector, self.path = \
            net, arch, method, classes, detector, path


def load_model(ref: str, num_classes: int | None = None, where: str = "checkpoint") -> LoadedModel:
    """Load a checkpoint of this plugin or the zoo digits CNN; ``num_classes`` is checked against its classifier."""
    path = resolve_path(ref)
    state = load_state_dict(path)
    meta = _metadata(path)
    if meta.get("format") == "wb_oodtrain":
        arch = json.loads(meta["arch"])
        method, detector = meta.get("method", "ce"), meta.get("detector", "msp")
        classes = json.loads(meta.get("classes", "[]"))
    elif meta.get("architecture") == "DigitsCNN" or "body.0.0.weight" in state:
        c = int(meta.get("in_channels", state["body.0.0.weight"].shape[1]))
        arch = {"backbone": "digits-cnn", "width": int(state["body.0.0.weight"].shape[0]), "in_channels": c,
                "num_classes": int(state["fc.weight"].shape[0]), "stem": "cifar", "head": "linear",
                "mean": [0.0] * c, "std": [1.0] * c}
        state = {("encoder" + k[4:] if k.startswith("body.") else k): v for k, v in state.items()}
        state["mean"], state["std"] = torch.zeros(1, c, 1, 1), torch.ones(1, c, 1, 1)
        method, detector, classes = "ce", "msp", [str(i) for i in range(arch["num_classes"])]
    else:
        raise CheckpointError(f"{where}: {path} is neither a checkpoint of this plugin (safetensors with "
                              f"'wb_oodtrain' metadata) nor a digits CNN; pass such a file")
    if num_classes is not None and int(arch["num_classes"]) != num_classes:
        raise CheckpointError(f"{where}: {path} has a classifier for {arch['num_classes']} classes but the dataset "
                              f"has {num_classes} classes; pick a checkpoint trained on this dataset")
    net = build_network(arch)
    outputs = _classifier_outputs(state)
    if outputs is not None and outputs != int(arch["num_classes"]):
        raise CheckpointError(f"{where}: {path}: classifier has {outputs} outputs but its metadata says "
                              f"{arch['num_classes']} classes")
    own = net.state_dict()
    bad = [k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
    if bad:
        raise CheckpointError(f"{where}: {path}: {bad[0]!r} is missing or has another shape than the network "
                              f"{arch['backbone']}/{arch.get('head', 'linear')} expects")
    net.load_state_dict({k: state[k] for k in own})
    return LoadedModel(net.eval(), arch, method, classes, detector, path)


def load_card(card: ModelCard, weights: Path | str | None = None) -> OODNet:
    """The zoo cards' loader (``load_zoo_model("palm-digits")``, or ``weights=`` another checkpoint): the network,
    which follows the host's classifier contract, so post-hoc detectors and adaptation take it as any zoo
    classifier."""
    return load_model(str(weights or card.weights_path)).net
