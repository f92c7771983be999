"""The closed-form stages SC2-PCR and VBReg share in their reference code (ZhiChen902/SC2-PCR @ 19961eae
``SC2_PCR.py``/``common.py``; Jiang-HB/VBReg @ 6e622895 ``models/VBReg.py``), written out once for both parity
tests: stable descending ranking, power iteration with the references' stop rule, weighted Kabsch."""

from __future__ import annotations

import torch


def _ranked(values: torch.Tensor) -> torch.Tensor:
    return torch.sort(values, dim=-1, descending=True, stable=True).indices


def _power(m: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Leading eigenvector of a stack (b, n, n): start at ones, divide by norm + 1e-6, stop on allclose."""
    v = torch.ones_like(m[:, :, :1])
    before = v
    for _ in range(steps):
        v = torch.bmm(m, v)
        v = v / (torch.norm(v, dim=1, keepdim=True) + 1e-6)
        if torch.allclose(v, before):
            break
        before = v
    return v[:, :, 0]


def _weighted_svd(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(b, k, 3) x2 and (b, k) weights -> (b, 4, 4); centroids divide by sum(w) + 1e-6 as in common.py."""
    total = w.sum(dim=1, keepdim=True)[:, :, None] + 1e-6
    ca = (a * w[:, :, None]).sum(dim=1, keepdim=True) / total
    cb = (b * w[:, :, None]).sum(dim=1, keepdim=True) / total
    h = (a - ca).transpose(1, 2) @ torch.diag_embed(w) @ (b - cb)
    u, _, v = torch.svd(h)
    fix = torch.eye(3).repeat(len(a), 1, 1)
    fix[:, 2, 2] = torch.det(v @ u.transpose(1, 2))
    rot = v @ fix @ u.transpose(1, 2)
    out = torch.eye(4).repeat(len(a), 1, 1)
    out[:, :3, :3] = rot
    out[:, :3, 3] = (cb.transpose(1, 2) - rot @ ca.transpose(1, 2))[:, :, 0]
    return out
