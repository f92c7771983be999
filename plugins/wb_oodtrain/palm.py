"""PALM (Lu et al. 2024): a mixture of ``M`` prototypes per class on the unit hypersphere.

Each step: Sinkhorn-Knopp soft-assigns the embeddings to all prototypes, the assignment is masked to the sample's
class and cut to its top-k, prototypes move by an EMA of their assigned embeddings, then the MLE loss pulls each
embedding to its class's prototypes and the prototype contrastive loss pulls a class's prototypes together
while pushing other classes' away. Prototype ``j`` belongs to class ``j % C`` (index ``m * C + c``).

``assignment="reference"`` (default) follows the official code (jeff024/PALM @eecb59a,
``util/loss_functions.py``): after the EMA update the Sinkhorn assignment is computed again against the updated
prototypes, the MLE weights are that new assignment on the top-k positions chosen by the update, and the MLE
loss sees the updated prototypes detached (only the prototype contrastive loss reaches the encoder through the
EMA). ``assignment="pre-update"`` is this project's earlier variant: one Sinkhorn pass, its weights reused for
the loss, and gradients through the updated prototypes in both losses.
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
    """Prototypes of one class are positives for each other, every other prototype is in the denominator.

    As in the reference, each row's similarities are measured from the row maximum (self included, not
    differentiated); with positives that offset cancels, without them (one prototype per class) the row's loss is
    ``logsumexp_{j != i} s_ij - max_j s_ij``, a pure repulsion between the classes' prototypes.
    """
    k = len(prototypes)
    owner = torch.arange(k, device=prototypes.device) % num_classes
    self_mask = torch.eye(k, dtype=torch.bool, device=prototypes.device)
    positive = ((owner[:, None] == owner[None, :]) & ~self_mask).to(prototypes.dtype)
    sims = prototypes @ prototypes.T / temperature
    shifted = sims - sims.max(dim=1, keepdim=True).values.detach()
    share = positive / positive.sum(1, keepdim=True).clamp_min(1.0)
    log_den = torch.logsumexp(shifted.masked_fill(self_mask, float("-inf")), dim=1)
    return -((share * shifted).sum(1) - log_den).mean()


def loss_weights(q_new: torch.Tensor, w_update: torch.Tensor, y: torch.Tensor, num_classes: int,
                 num_protos: int, top_k: int) -> torch.Tensor:
    """The reference's MLE weights: the post-update assignment ``q_new`` on the sample's class, kept at the
    ``top_k`` positions of the column-normalised update weights, L1-renormalised per row."""
    per_proto = w_update / w_update.sum(0, keepdim=True).clamp_min(1e-12)
    k = min(top_k, num_protos)
    keep = torch.zeros_like(per_proto).scatter_(1, torch.topk(per_proto, k, dim=1).indices, 1.0)
    w = q_new * class_mask(y, num_classes, num_protos) * keep
    return w / w.sum(1, keepdim=True).clamp_min(1e-12)


def palm_losses(z: torch.Tensor, prototypes: torch.Tensor, y: torch.Tensor, num_classes: int, p,
                assignment: str = "reference") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mle, pcon, updated prototypes)`` for embeddings ``z`` (grad kept) and the current prototypes.

    ``p`` carries num_protos, top_k, temperature, proto_temperature, epsilon, sinkhorn_iters and proto_m.
    """
    if assignment not in ("reference", "pre-update"):
        raise ValueError(f"palm_assignment must be 'reference' or 'pre-update', got {assignment!r}")
    q = sinkhorn(z.detach() @ prototypes.T, p.epsilon, p.sinkhorn_iters)
    w = assignment_weights(q, y, num_classes, p.num_protos, p.top_k)
    protos = ema_prototypes(prototypes, z, w, p.proto_m)
    if assignment == "reference":
        fixed = protos.detach()
        q_new = sinkhorn(z.detach() @ fixed.T, p.epsilon, p.sinkhorn_iters)
        mle = mle_loss(z, fixed, loss_weights(q_new, w, y, num_classes, p.num_protos, p.top_k), p.temperature)
    else:
        mle = mle_loss(z, protos, w, p.temperature)
    pcon = proto_contrastive_loss(protos, num_classes, p.proto_temperature)
    return mle, pcon, protos


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
        mle, pcon, protos = palm_losses(z, head.prototypes, labels, self.num_classes, p, p.palm_assignment)
        head.prototypes = protos.detach()
        return mle + p.lambda_pcon * pcon, {"mle": mle.item(), "pcon": pcon.item()}
