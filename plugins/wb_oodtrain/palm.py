"""PALM (Lu et al. 2024): a mixture of ``M`` prototypes per class on the unit hypersphere.

Each step: Sinkhorn-Knopp soft-assigns the embeddings to all prototypes, the assignment is masked to the sample's
class and cut to its top-k, prototypes move by an EMA of their assigned embeddings, then the MLE loss pulls each
embedding to its class's prototypes and the prototype contrastive loss pulls a class's prototypes together
while pushing other classes' away. Prototype ``j`` belongs to class ``j % C`` (index ``m * C + c``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def sinkhorn(scores: torch.Tensor, epsilon: float, iters: int) -> torch.Tensor:
    """Soft assignment ``(B, K)`` of ``exp(scores / epsilon)``: every row sums to 1, prototype masses near B/K."""
    q = torch.exp((scores - scores.max()) / epsilon).T.double()
    q /= q.sum()
    k, b = q.shape
    for _ in range(iters):
        q /= q.sum(dim=1, keepdim=True) * k
        q /= q.sum(dim=0, keepdim=True) * b
    return (q * b).T.float()


def class_mask(y: torch.Tensor, num_classes: int, num_protos: int) -> torch.Tensor:
    """``(B, K)`` booleans: the prototypes of each sample's own class."""
    owner = torch.arange(num_classes * num_protos, device=y.device) % num_classes
    return owner[None, :] == y[:, None]


def assignment_weights(q: torch.Tensor, y: torch.Tensor, num_classes: int, num_protos: int,
                       top_k: int) -> torch.Tensor:
    """Sinkhorn weights kept on the sample's class, cut to its ``top_k`` largest and L1-renormalised per row."""
    w = q * class_mask(y, num_classes, num_protos)
    k = min(top_k, num_protos)
    top = torch.topk(w, k, dim=1)
    kept = torch.zeros_like(w).scatter_(1, top.indices, top.values)
    return kept / kept.sum(1, keepdim=True).clamp_min(1e-12)


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        import warnings

        from torch.distributed.nn.functional import all_reduce

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return all_reduce(t)
    return t


def ema_prototypes(prototypes: torch.Tensor, z: torch.Tensor, w: torch.Tensor, momentum: float) -> torch.Tensor:
    """``normalise(m * p_j + (1 - m) * sum_i w_ij z_i / sum_i w_ij)``; prototypes nobody chose stay put.

    The batch term keeps its gradient so the contrastive loss reaches the encoder; under DDP the sums are
    all-reduced so every process moves the prototypes identically.
    """
    mass = _all_reduce(w.sum(0).detach())
    pulled = _all_reduce(w.T @ z)
    mean = pulled / mass.clamp_min(1e-12)[:, None]
    used = (mass > 0).float()[:, None]
    moved = momentum * prototypes + (1.0 - momentum) * mean
    return F.normalize(used * moved + (1.0 - used) * prototypes, dim=1)


def mle_loss(z: torch.Tensor, prototypes: torch.Tensor, w: torch.Tensor, temperature: float) -> torch.Tensor:
    """``-mean_i [sum_j w_ij z_i.p_j / tau - log sum_j exp(z_i.p_j / tau)]``."""
    logits = z @ prototypes.T / temperature
    return -((w * logits).sum(1) - torch.logsumexp(logits, dim=1)).mean()


def proto_contrastive_loss(prototypes: torch.Tensor, num_classes: int, temperature: float) -> torch.Tensor:
    """Prototypes of one class are positives for each other, every other prototype is in the denominator."""
    k = len(prototypes)
    owner = torch.arange(k, device=prototypes.device) % num_classes
    self_mask = torch.eye(k, dtype=torch.bool, device=prototypes.device)
    positive = (owner[:, None] == owner[None, :]) & ~self_mask
    sims = prototypes @ prototypes.T / temperature
    log_den = torch.logsumexp(sims.masked_fill(self_mask, float("-inf")), dim=1)
    has_pos = positive.any(1)
    if not has_pos.any():
        return sims.new_zeros(())
    pos_mean = (sims * positive).sum(1)[has_pos] / positive.sum(1)[has_pos]
    return -(pos_mean - log_den[has_pos]).mean()


class PALMMethod:
    """Two augmented views per image through encoder and head; Sinkhorn, EMA update, then MLE + lambda * pcon."""

    name = "palm"

    def __init__(self, params, num_classes: int, augment) -> None:
        self.p, self.num_classes, self.augment = params, num_classes, augment
        self.head = {"head": "prototypes", "num_protos": params.num_protos, "proj_dim": params.proj_dim,
                     "temperature": params.temperature}

    def param_groups(self, net) -> list[dict]:
        return [{"params": list(net.parameters())}]

    def loss(self, model, net, x, y, gen, epoch: int, epochs: int) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.p
        views = torch.cat([x, self.augment(x, gen)])
        labels = torch.cat([y, y])
        _, _, z = model(views, with_features=True)
        head = net.fc
        q = sinkhorn(z.detach() @ head.prototypes.T, p.epsilon, p.sinkhorn_iters)
        w = assignment_weights(q, labels, self.num_classes, p.num_protos, p.top_k)
        protos = ema_prototypes(head.prototypes, z, w, p.proto_m)
        mle = mle_loss(z, protos, w, p.temperature)
        pcon = proto_contrastive_loss(protos, self.num_classes, p.proto_temperature)
        head.prototypes = protos.detach()
        return mle + p.lambda_pcon * pcon, {"mle": mle.item(), "pcon": pcon.item()}
