"""One network shape for every method: normalise -> encoder -> penultimate features -> head.

``forward_features`` and ``fc`` are the host's classifier contract (ClassifierOutputs, the ONNX export). The head
differs by method: a linear layer (CE, MixOE), a linear layer on standardised features (ASCOOD), or a projection
onto the hypersphere scored against class prototypes (PALM).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wb_digits.api import DigitsCNN
from workbench.api import CheckpointError, load_state_dict

FEATURE_DIMS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048}


class StandardisedLinear(nn.Module):
    """ASCOOD's head: ``sigma * (h - mean(h)) / (std(h) + 1e-6)`` per sample, then a linear layer."""

    def __init__(self, dim: int, num_classes: int, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma
        self.linear = nn.Linear(dim, num_classes)

    def standardise(self, h: torch.Tensor) -> torch.Tensor:
        return self.sigma * (h - h.mean(1, keepdim=True)) / (h.std(1, keepdim=True) + 1e-6)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(self.standardise(h))


class PrototypeHead(nn.Module):
    """PALM's head: an MLP onto the unit sphere and ``M`` prototypes per class (index ``m * C + c``).

    Its class logits are the best prototype's cosine over ``temperature``, so MSP and accuracy work as usual.
    """

    def __init__(self, dim: int, num_classes: int, num_protos: int, proj_dim: int, temperature: float) -> None:
        super().__init__()
        self.num_classes, self.num_protos, self.temperature = num_classes, num_protos, temperature
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, proj_dim))
        self.register_buffer("prototypes", F.normalize(torch.randn(num_protos * num_classes, proj_dim), dim=1))

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(h), dim=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        sims = self.embed(h) @ self.prototypes.T
        per_class = sims.reshape(-1, self.num_protos, self.num_classes)
        return per_class.max(dim=1).values / self.temperature


class OODNet(nn.Module):
    """Input normalisation, an encoder giving pooled features, and a method-specific head ``fc``."""

    def __init__(self, encoder: nn.Module, fc: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.encoder, self.fc = encoder, fc
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    @property
    def num_classes(self) -> int:
        head = self.fc
        if isinstance(head, PrototypeHead):
            return head.num_classes
        return (head.linear if isinstance(head, StandardisedLinear) else head).out_features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor, with_features: bool = False):
        """Logits, or ``(logits, features, embedding)`` for training (one forward, so DDP sees every use)."""
        feats = self.forward_features(x)
        logits = self.fc(feats)
        if not with_features:
            return logits
        emb = self.fc.embed(feats) if isinstance(self.fc, PrototypeHead) else feats
        return logits, feats, emb


def resnet_encoder(name: str, in_channels: int, stem: str) -> nn.Module:
    """A torchvision ResNet without its fc; the CIFAR stem is a 3x3 stride-1 conv and no max-pool."""
    import torchvision

    net = getattr(torchvision.models, name)(weights=None)
    if stem == "cifar":
        net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    net.fc = nn.Identity()
    return net


def load_backbone_weights(encoder: nn.Module, path: str) -> list[str]:
    """Load a torchvision state dict into a ResNet encoder; the fc and shape-mismatched stem are skipped (listed)."""
    state = load_state_dict(path)
    own = encoder.state_dict()
    usable, skipped = {}, []
    for key, tensor in state.items():
        if key.startswith("fc."):
            skipped.append(key)
        elif key in own and tuple(own[key].shape) != tuple(tensor.shape):
            if key.startswith("conv1."):
                skipped.append(key)
                continue
            raise CheckpointError(f"backbone_weights: {path}: {key} has shape {tuple(tensor.shape)} but the backbone "
                                  f"expects {tuple(own[key].shape)}")
        elif key in own:
            usable[key] = tensor
    missing = [k for k in own if k not in usable and not k.startswith("conv1.")]
    if missing:
        raise CheckpointError(f"backbone_weights: {path} is not a state dict of this ResNet (missing {missing[0]!r} "
                              f"and {len(missing) - 1} more)")
    encoder.load_state_dict(usable, strict=False)
    return skipped


def build_network(arch: dict) -> OODNet:
    """The network described by ``arch`` (what a checkpoint's metadata holds)."""
    c, classes = int(arch["in_channels"]), int(arch["num_classes"])
    if arch["backbone"] == "digits-cnn":
        width = int(arch["width"])
        encoder, dim = DigitsCNN(num_classes=classes, width=width, in_channels=c).body, 4 * width
    elif arch["backbone"] in FEATURE_DIMS:
        encoder, dim = resnet_encoder(arch["backbone"], c, arch["stem"]), FEATURE_DIMS[arch["backbone"]]
    else:
        raise ValueError(f"backbone: unknown {arch['backbone']!r}; choose digits-cnn or resnet18/34/50")
    head = arch.get("head", "linear")
    if head == "linear":
        fc: nn.Module = nn.Linear(dim, classes)
    elif head == "standardised":
        fc = StandardisedLinear(dim, classes, float(arch["sigma"]))
    elif head == "prototypes":
        fc = PrototypeHead(dim, classes, int(arch["num_protos"]), int(arch["proj_dim"]), float(arch["temperature"]))
    else:
        raise ValueError(f"unknown head {head!r}")
    return OODNet(encoder, fc, tuple(arch["mean"]), tuple(arch["std"]))
