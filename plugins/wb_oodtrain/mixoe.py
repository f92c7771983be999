"""MixOE (Zhang et al. 2023): mix ID images with outliers and train toward ``lambda*onehot + (1-lambda)*uniform``.

``lambda = 1`` is plain cross-entropy and ``lambda = 0`` is outlier exposure (cross-entropy to uniform), so the
confidence is taught to fall linearly as an input moves from ID toward outliers.

Defaults follow the official code (zjysteven/MixOE @1222147, ``train/train_mixoe.py``): the clean and the mixed
batch go through the network in two forward passes (BatchNorm normalises each with its own batch statistics), and
cutmix pastes one box, drawn once per batch, into every image. ``forward_passes="one"`` (both batches in one
concatenated pass) and ``cutmix_box="per-sample"`` (one box per image) are this project's earlier variants.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def soft_targets(y: torch.Tensor, lam: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows ``lam * onehot(y) + (1 - lam) / C``; each row sums to 1."""
    lam = lam.view(-1, 1).to(torch.float32)
    return lam * F.one_hot(y, num_classes).float() + (1.0 - lam) / num_classes


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``mean_i -sum_k t_ik log softmax(z_i)_k``: CE for one-hot targets, the OE loss for uniform ones."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()


def mixup(x: torch.Tensor, x_out: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """``lam * x + (1 - lam) * x_out`` with one ``lam`` per sample."""
    lam = lam.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)
    return lam * x + (1.0 - lam) * x_out


def batch_box(h: int, w: int, lam: float, row: int, col: int) -> tuple[int, int, int, int]:
    """The reference's box ``(r0, r1, c0, c1)`` around ``(row, col)``: extents ``int(size * sqrt(1 - lam))``
    (truncated), corners ``centre -/+ extent // 2`` clipped to the image (so an odd extent loses one pixel)."""
    cut = math.sqrt(max(0.0, 1.0 - lam))
    half_h, half_w = int(h * cut) // 2, int(w * cut) // 2
    return (min(max(row - half_h, 0), h), min(max(row + half_h, 0), h),
            min(max(col - half_w, 0), w), min(max(col + half_w, 0), w))


def cutmix(x: torch.Tensor, x_out: torch.Tensor, lam: torch.Tensor,
           gen: torch.Generator, box: str = "batch") -> tuple[torch.Tensor, torch.Tensor]:
    """Paste outlier boxes into the ID images; returns the mixed images and the actual ``lam`` per image
    (the fraction of ID pixels kept after clipping).

    ``box="batch"`` (the reference): one centre drawn uniformly (row, then column), one :func:`batch_box` for the
    whole batch from ``lam[0]``. ``box="per-sample"``: each image its own centre and a box of side
    ``round(size * sqrt(1 - lam_i))`` clipped at the border.
    """
    n, _, h, w = x.shape
    if box == "batch":
        row, col = int(torch.randint(h, (1,), generator=gen)), int(torch.randint(w, (1,), generator=gen))
        r0, r1, c0, c1 = batch_box(h, w, float(lam[0]), row, col)
        out = x.clone()
        out[:, :, r0:r1, c0:c1] = x_out[:, :, r0:r1, c0:c1]
        kept = torch.full((n,), 1.0 - (r1 - r0) * (c1 - c0) / (h * w), dtype=torch.float32)
        return out, kept.to(x.device)
    if box != "per-sample":
        raise ValueError(f"cutmix_box must be 'batch' or 'per-sample', got {box!r}")
    out = x.clone()
    kept = torch.empty(n, dtype=torch.float32)
    for i in range(n):
        cut = math.sqrt(max(0.0, 1.0 - float(lam[i])))
        bh, bw = int(round(h * cut)), int(round(w * cut))
        cy, cx = int(torch.randint(h, (1,), generator=gen)), int(torch.randint(w, (1,), generator=gen))
        y0, y1 = max(cy - bh // 2, 0), min(cy - bh // 2 + bh, h)
        x0, x1 = max(cx - bw // 2, 0), min(cx - bw // 2 + bw, w)
        out[i, :, y0:y1, x0:x1] = x_out[i, :, y0:y1, x0:x1]
        kept[i] = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
    return out, kept.to(x.device)


def sample_lambda(alpha: float, n: int, gen: torch.Generator, per_sample: bool = False) -> torch.Tensor:
    """``lambda ~ Beta(alpha, alpha)``: one per batch as in the paper (``per_sample`` for the views)."""
    g1 = torch._standard_gamma(torch.full((n if per_sample else 1,), float(alpha)), generator=gen)
    g2 = torch._standard_gamma(torch.full((n if per_sample else 1,), float(alpha)), generator=gen)
    lam = g1 / (g1 + g2)
    return lam if per_sample else lam.expand(n).clone()


def mix(op: str, x: torch.Tensor, x_out: torch.Tensor, lam: torch.Tensor,
        gen: torch.Generator, box: str = "batch") -> tuple[torch.Tensor, torch.Tensor]:
    """Mixed images and their effective ``lam`` for ``op`` in {mixup, cutmix} (``box``: see :func:`cutmix`)."""
    if op == "cutmix":
        return cutmix(x, x_out, lam.cpu(), gen, box)
    return mixup(x, x_out, lam.to(x.device)), lam.to(x.device)


class MixOEMethod:
    """One step: CE on the ID batch plus ``beta`` times the soft-target loss on ID/outlier mixes.

    ``forward_passes="two"`` runs the clean and the mixed batch separately (the reference), ``"one"`` runs them
    concatenated.
    """

    name = "mixoe"
    head = {"head": "linear"}

    def __init__(self, params, outliers: torch.Tensor, num_classes: int) -> None:
        self.op, self.alpha, self.beta = params.mix_op, params.alpha, params.beta
        self.passes, self.box = params.forward_passes, params.cutmix_box
        if self.passes not in ("two", "one"):
            raise ValueError(f"forward_passes must be 'two' or 'one', got {self.passes!r}")
        self.outliers, self.num_classes = outliers, num_classes

    def param_groups(self, net) -> list[dict]:
        return [{"params": list(net.parameters())}]

    def loss(self, model, net, x, y, gen, epoch: int, epochs: int) -> tuple[torch.Tensor, dict[str, float]]:
        idx = torch.randint(len(self.outliers), (len(x),), generator=gen)
        x_out = self.outliers[idx.to(self.outliers.device)].to(x.device)
        lam = sample_lambda(self.alpha, len(x), gen)
        mixed, lam = mix(self.op, x, x_out, lam, gen, self.box)
        if self.passes == "two":
            clean_logits, mixed_logits = model(x), model(mixed)
        else:
            logits = model(torch.cat([x, mixed]))
            clean_logits, mixed_logits = logits[:len(x)], logits[len(x):]
        ce = F.cross_entropy(clean_logits, y)
        mixed_loss = soft_cross_entropy(mixed_logits, soft_targets(y, lam, self.num_classes))
        return ce + self.beta * mixed_loss, {"ce": ce.item(), "mix": mixed_loss.item(), "lambda": float(lam.mean())}
