"""Plain cross-entropy: the baseline every trained detector is compared with (scored by MSP)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class CEMethod:
    name = "ce"
    head = {"head": "linear"}

    def param_groups(self, net) -> list[dict]:
        return [{"params": list(net.parameters())}]

    def loss(self, model, net, x, y, gen, epoch: int, epochs: int) -> tuple[torch.Tensor, dict[str, float]]:
        ce = F.cross_entropy(model(x), y)
        return ce, {"ce": ce.item()}
