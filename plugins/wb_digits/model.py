"""The small digits CNN: three conv blocks with BatchNorm, global pooling, a linear head.

``forward_features`` gives the penultimate features the feature-space detectors (Mahalanobis, KNN) and the
adaptation methods use, and ``fc`` is the head: the host's classifier contract.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DigitsCNN(nn.Module):
    def __init__(self, num_classes: int = 6, width: int = 32, in_channels: int = 1) -> None:
        super().__init__()
        self.num_classes, self.width, self.in_channels = num_classes, width, in_channels
        self.body = nn.Sequential(_block(in_channels, width), nn.MaxPool2d(2), _block(width, 2 * width),
                                  nn.MaxPool2d(2), _block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten())
        self.fc = nn.Linear(4 * width, num_classes)

    @property
    def feature_dim(self) -> int:
        return 4 * self.width

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))
