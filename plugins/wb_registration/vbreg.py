"""VBReg inference: the network (torch or its ONNX export) gives inlier logits, attention maps and feature
cosines; the closed-form stages then seed, vote with the Wilson lower bound, weight each hypothesis by a
leading eigenvector, fit by weighted Kabsch, score, select and refine.

Ties in every ranking go to the lower match index (the reference leaves exact ties to its device's sort).
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
    nms_seeds,
    pairwise_distances,
    soft_compatibility,
    truncated_scores,
)
from wb_registration.vbreg_net import INPUTS, OUTPUTS, ROLES, SinglePairVBReg, VBRegNet, feature_compatibility

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

    @property
    def sigma2(self) -> float:
        """The network's learned sigma^2 (feature compatibility kernel)."""
        return float(self.net.sigma2.detach().cpu())

    def __call__(self, src: np.ndarray, tgt: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
        """(N,) logits, (N, L, N) attention, (N, L, N) feature cosines as numpy float32."""
        corr = np.c_[src, tgt].astype(np.float32)
        return tuple(np.asarray(o) for o in self.session(corr, self.noise(len(src), seed).numpy()))


#: What ``workbench`` does differently from ``reference``, step by step.
VARIANT_STEPS = {
    "voter_order": "reference: within a layer the feature compatibility votes before the attention map (last "
                   "layer first); workbench: attention before compatibility",
    "seed_ranking": "reference: raw logit x local-max flag (non-maxima at 0, negative maxima last); workbench: "
                    "sigmoid confidence, local maxima first, then the rest by confidence",
    "seed_self_exclusion": "reference: a voter's diagonal is zeroed, so a seed can vote for (and join) itself; "
                           "workbench: the seed is never a candidate",
    "voting_sigma": "reference: voters use the compatibility at sigma = 1 (the value the network starts from, "
                    "fixed when the blocks are built); workbench: the learned sigma",
    "power_iteration": "reference: at most 10 float32 steps, stopping when all hypotheses converged; "
                       "workbench: always 10 float64 steps",
    "refinement_stop": "reference: stop when the inlier count is unchanged; workbench: when the inlier set is",
}


def _top_k_indices(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Per row, the indices of the ``k`` largest entries; exact ties at the k-th value go to the lower index.

    The top-(k+1) shows which rows tie at the k-th place (most rows at high outlier ratios, where many scores
    are exactly 0). There the entries above the k-th value keep their places and the rest are the lowest-index
    entries equal to it: a second top-k over a key that ranks those by index.
    """
    n = scores.shape[1]
    if k >= n:
        return torch.topk(scores, k, dim=1).indices
    values, indices = torch.topk(scores, k + 1, dim=1)
    kth, indices = values[:, k - 1:k], indices[:, :k]
    crowded = values[:, k] >= kth[:, 0]
    if crowded.any():
        sub, sub_kth = scores[crowded], kth[crowded]
        above = (values[crowded, :k] > sub_kth).sum(dim=1, keepdim=True)  # they lead the sorted top-k
        lowest_first = torch.arange(n, 0, -1, dtype=sub.dtype)
        tied = torch.topk(torch.where(sub == sub_kth, lowest_first, 0), k, dim=1).indices
        place = torch.arange(k).expand_as(tied)
        from_ties = tied.gather(1, (place - above).clamp(min=0))
        indices[crowded] = torch.where(place < above, indices[crowded], from_ties)
    return indices


def _top_k_ranked(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Per row, the ``k`` largest entries' indices, largest first and equal scores by lower index: the first k
    of a stable descending sort, from :func:`_top_k_indices` and a sort of only the k picked."""
    picked = _top_k_indices(scores, k).sort(dim=1).values
    order = torch.sort(scores.gather(1, picked), dim=1, descending=True, stable=True).indices
    return picked.gather(1, order)


def _wilson(counts: torch.Tensor, n: int, z: float = WILSON_Z) -> torch.Tensor:
    """:func:`wilson_lower_bound` of vote counts after ``n`` voters, in float32 as the voting keeps it."""
    p_hat = counts / n
    return (p_hat + z ** 2 / (2.0 * n) - z * torch.sqrt(p_hat * (1.0 - p_hat) / n + z ** 2 / (4 * n ** 2))) \
        / (1.0 + z ** 2 / n)


def vote(voters: list[np.ndarray], seeds: np.ndarray, kappa: int, exclude_seed: bool = False) -> np.ndarray:
    """Hypotheses ``(seeds, kappa)``: each seed followed by the kappa-1 matches with the highest Wilson bound.

    ``voters``: each voter's scores from the seeds, (len(seeds), N) rows (a voter's full matrix indexed by
    ``seeds``; only those rows are ever needed). Voter n (in the given order) adds a vote to each seed's kappa-1
    highest-scoring matches, ties to the lower index; after n voters the vote share p_hat gives the Wilson lower
    bound W^n, and a match's score is max_n W^n. The reference zeroes each voter's diagonal, so with few positive
    scores a seed may vote for itself and appear twice in its hypothesis; ``exclude_seed`` never lets it be a
    candidate.
    """
    n = voters[0].shape[1]
    k = min(kappa - 1, n - 1 if exclude_seed else n)
    idx = torch.from_numpy(np.asarray(seeds, dtype=np.int64))
    rows = torch.arange(len(seeds))
    counts = torch.zeros((len(seeds), n))
    ones = torch.ones((len(seeds), k))
    best = torch.zeros((len(seeds), n))
    voted = []
    for i, voter in enumerate(voters, start=1):
        scores = torch.from_numpy(np.array(voter, dtype=np.float32))  # a copy: its seeds' entries are set here
        scores[rows, idx] = -torch.inf if exclude_seed else 0.0
        voted.append(_top_k_indices(scores, k))
        counts.scatter_add_(1, voted[-1], ones)
        # a match no voter has chosen yet has the bound of zero votes (0 up to rounding), below any voted
        # match's, and every row has k voted matches: the bound is only needed where votes fell
        cols = torch.cat(voted, dim=1)
        best.scatter_reduce_(1, cols, _wilson(counts.gather(1, cols), i), reduce="amax")
    if exclude_seed:
        best[rows, idx] = -torch.inf
    return np.c_[seeds, _top_k_ranked(best, k).numpy()]


def vbreg(src: np.ndarray, tgt: np.ndarray, eps: float, infer: VBRegInference, seed: int = 0,
          seed_ratio: float = 0.1, n_min: int = 1000, kappa: int = 40, variant: str = "reference",
          return_stages: bool = False) -> Estimate:
    """Register matched points ``src[i] <-> tgt[i]`` with VBReg (network + closed-form stages).

    ``variant="reference"`` (the default) follows the authors' ``models/VBReg.py``, ``VBPointDSC.py`` and
    ``BaseModel.py`` (Jiang-HB/VBReg @ 6e62289) at test time; ``variant="workbench"`` is this project's earlier
    reading (see :data:`VARIANT_STEPS`). With ``return_stages`` the estimate's ``stages`` holds the seeds,
    hypotheses, weights and poses.
    """
    if variant not in ("reference", "workbench"):
        raise ValueError(f"vbreg_variant must be 'reference' or 'workbench', got {variant!r}")
    reference = variant == "reference"
    n = len(src)
    if n < 3:
        return ill_posed(n, f"{n} matches (need at least 3)")
    t0 = time.perf_counter()
    logits, attention, cosine = infer(src, tgt, seed)
    t_net = time.perf_counter() - t0
    confidence = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    src_dist = pairwise_distances(src)
    # diagonal 1 (d_ii = 0): a voter's diagonal is masked in vote(), a hypothesis's diagonal below; a seed
    # that joined its own hypothesis is fully compatible with itself, as in the reference
    beta = soft_compatibility(np.abs(src_dist - pairwise_distances(tgt)), eps, zero_diagonal=False)
    n_seeds = min(n, max(int(seed_ratio * n), n_min))
    sigma2 = infer.sigma2
    vote_sigma2 = 1.0 if reference else sigma2
    seeds = nms_seeds(logits.astype(np.float32) if reference else confidence, src_dist, eps, n_seeds,
                      fill="reference" if reference else "confidence")
    # the voters' rows of the seeds only: the voting never reads the others
    seed_cosine = torch.from_numpy(cosine[seeds])
    seed_beta = beta[seeds]
    voters = []
    for layer in reversed(range(attention.shape[1])):
        compat = feature_compatibility(seed_cosine[:, layer], vote_sigma2).numpy() * seed_beta
        seed_attention = attention[seeds, layer]
        voters += [compat, seed_attention] if reference else [seed_attention, compat]
    groups = vote(voters, seeds, kappa, exclude_seed=not reference)
    pair = (groups[:, :, None], groups[:, None, :])
    if reference:  # the final features' compatibility at the learned sigma, clipped at 0 only
        last = np.clip(1.0 - (1.0 - cosine[:, -1]) / np.float32(sigma2), 0.0, None).astype(np.float32)
    else:
        last = feature_compatibility(torch.from_numpy(np.ascontiguousarray(cosine[:, -1])), sigma2).numpy()
    weight_m = beta[pair] * last[pair]
    diag = np.arange(groups.shape[1])
    weight_m[:, diag, diag] = 0.0
    weights = leading_eigenvector(weight_m, early_stop=reference)
    if reference:
        weights = weights / (weights.sum(axis=1, keepdims=True) + np.float32(1e-6))
    else:
        weights[weights.sum(axis=1) <= 0] = 1.0
    transforms = fit_hypotheses(groups, weights, src, tgt)
    if reference:  # all-zero weights: the reference's weighted SVD of a zero matrix is the identity
        transforms[weights.sum(axis=1) <= 0] = np.eye(4)
    scores = truncated_scores(transforms, src, tgt, eps)
    best = transforms[int(np.argmax(scores))]
    info = {"time_network_s": t_net, "time_vbreg_s": time.perf_counter() - t0, "n_seeds": float(len(seeds))}
    est = finish(best, src, tgt, eps, confidence, info, stop="count" if reference else "set")
    if return_stages:
        est.stages = {"logits": logits, "seeds": seeds, "groups": groups, "weights": weights,
                      "transforms": transforms, "scores": scores, "best": best}
    return est
