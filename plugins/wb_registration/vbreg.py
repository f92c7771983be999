"""VBReg inference: the network (torch or its ONNX export) gives confidences, attention maps and feature
compatibilities; the closed-form stages then seed, vote with the Wilson lower bound, weight each
hypothesis by a leading eigenvector, fit by weighted Kabsch, score, select and refine.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from wb_registration.consensus import (
    Estimate,
    finish,
    fit_hypotheses,
    ill_posed,
    leading_eigenvector,
    length_consistency,
    nms_seeds,
    soft_compatibility,
    truncated_scores,
)
from wb_registration.vbreg_net import INPUTS, OUTPUTS, ROLES, SinglePairVBReg, VBRegNet

WILSON_Z = 1.96


def wilson_lower_bound(p_hat: np.ndarray, n: int, z: float = WILSON_Z) -> np.ndarray:
    """Lower end of the Wilson score interval for a proportion ``p_hat`` observed over ``n`` trials."""
    z2 = z * z
    centre = p_hat + z2 / (2 * n)
    spread = z * np.sqrt(p_hat * (1 - p_hat) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n)


class VBRegInference:
    """Runs the network on one set of matches through the host's inference engine.

    ``inference`` is a run's ``ctx.inference`` (torch on the run's device, or ONNX Runtime on the cached,
    parity-checked export; ``onnx_file`` uses a given export); without it the network runs on torch here.
    """

    def __init__(self, net: VBRegNet, device: str = "cpu", inference=None, onnx_file: Path | None = None) -> None:
        self.net = net.eval().to(device)
        single = SinglePairVBReg(self.net).eval()
        if inference is None:
            from workbench.core.inference import inference_session

            inference = partial(inference_session, engine="torch", device=device)
        example = (torch.randn(64, 6, generator=torch.Generator().manual_seed(0)) * 0.5, self.noise(64, 0))
        self.session = inference(single, example, input_names=INPUTS, output_names=OUTPUTS,
                                 check_batch_sizes=(50, 300), onnx_file=onnx_file)

    def noise(self, n: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        layers, roles, latent = self.net.layers_n, ROLES, self.net.latent
        return torch.randn((n, layers * roles * latent), generator=gen)

    def __call__(self, src: np.ndarray, tgt: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
        """(N,) logits, (N, L, N) attention, (N, L, N) compatibility as numpy float32."""
        corr = np.c_[src, tgt].astype(np.float32)
        return tuple(np.asarray(o) for o in self.session(corr, self.noise(len(src), seed).numpy()))


def vote(voters: list[np.ndarray], seeds: np.ndarray, kappa: int) -> np.ndarray:
    """For each seed, the kappa-1 matches with the highest Wilson lower bound over the voters' top choices.

    Voter n adds one vote to each seed's kappa-1 highest-scoring matches; after n voters the vote share
    p_hat gives the Wilson bound W^n and a match's score is max_n W^n. Runs in torch (top-k is much faster
    than numpy's argpartition).
    """
    n = voters[0].shape[1]
    k = min(kappa - 1, n - 1)
    idx = torch.from_numpy(np.asarray(seeds, dtype=np.int64))
    rows = torch.arange(len(seeds))
    counts = torch.zeros((len(seeds), n))
    best = torch.zeros((len(seeds), n))
    z2 = WILSON_Z * WILSON_Z
    for i, voter in enumerate(voters, start=1):
        scores = torch.from_numpy(np.ascontiguousarray(voter, dtype=np.float32))[idx]
        scores[rows, idx] = -torch.inf
        counts.scatter_add_(1, torch.topk(scores, k, dim=1).indices, torch.ones(len(seeds), k))
        p_hat = counts / i
        spread = WILSON_Z * torch.sqrt(p_hat * (1 - p_hat) / i + z2 / (4 * i * i))
        best = torch.maximum(best, (p_hat + z2 / (2 * i) - spread) / (1 + z2 / i))
    best[rows, idx] = -torch.inf
    return np.c_[seeds, torch.topk(best, k, dim=1).indices.numpy()]


def vbreg(src: np.ndarray, tgt: np.ndarray, eps: float, infer: VBRegInference, seed: int = 0,
          seed_ratio: float = 0.1, n_min: int = 1000, kappa: int = 40) -> Estimate:
    """Register matched points ``src[i] <-> tgt[i]`` with VBReg (network + closed-form stages)."""
    n = len(src)
    if n < 3:
        return ill_posed(n, f"{n} matches (need at least 3)")
    t0 = time.perf_counter()
    logits, attention, compat = infer(src, tgt, seed)
    t_net = time.perf_counter() - t0
    confidence = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    beta = soft_compatibility(length_consistency(src, tgt), eps)
    seeds = nms_seeds(confidence, src, eps, min(n, max(int(seed_ratio * n), n_min)))
    layers = attention.shape[1]
    voters = []
    for layer in reversed(range(layers)):
        voters += [attention[:, layer], compat[:, layer] * beta]
    groups = vote(voters, seeds, kappa)
    weight_m = beta[groups[:, :, None], groups[:, None, :]] * compat[:, -1][groups[:, :, None], groups[:, None, :]]
    weights = leading_eigenvector(weight_m)
    weights[weights.sum(axis=1) <= 0] = 1.0
    transforms = fit_hypotheses(groups, weights, src, tgt)
    best = transforms[int(np.argmax(truncated_scores(transforms, src, tgt, eps)))]
    info = {"time_network_s": t_net, "time_vbreg_s": time.perf_counter() - t0, "n_seeds": float(len(seeds))}
    return finish(best, src, tgt, eps, confidence, info)
