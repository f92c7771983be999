"""PALM parity with the official code.

Reference: jeff024/PALM @eecb59acc3832c2ffff6c4ec15d086469984e637, ``util/loss_functions.py`` (class ``PALM``:
``sinkhorn``, ``mle_loss``, ``proto_contra``, ``forward``). The reference's computation is written out below in
float64 from reading that file (nothing copied): Sinkhorn on the K x B matrix ``exp(z.P / eps)`` with three
row/column normalisations; the update mask = class mask x assignment, cut to its top-k, L1-normalised per row then
per prototype; EMA of the prototypes; a second Sinkhorn against the updated prototypes; the MLE weights = the new
assignment on the class and on the top-k of the update mask, row-normalised; the MLE logits use the updated
prototypes detached; the prototype contrastive loss on the updated prototypes (temperature 0.5, logits measured
from the detached row maximum, positives = same class without self). Our default (``palm_assignment=reference``)
is compared with it on fixed random inputs of several sizes: losses, the gradient on the embeddings, the updated
prototypes and the MLE weights.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from wb_oodtrain import palm

# (batch B, classes C, prototypes per class M, dim d, top-k, proto momentum)
SIZES = [(16, 3, 2, 8, 1, 0.9), (64, 6, 6, 32, 5, 0.95), (96, 10, 4, 128, 3, 0.999), (24, 4, 1, 16, 1, 0.5),
         (40, 5, 3, 16, 3, 0.0)]


def _l1_rows(x: torch.Tensor) -> torch.Tensor:
    return x / x.abs().sum(1, keepdim=True).clamp_min(1e-12)


def _l1_cols(x: torch.Tensor) -> torch.Tensor:
    return x / x.abs().sum(0, keepdim=True).clamp_min(1e-12)


def ref_sinkhorn(feats: torch.Tensor, protos: torch.Tensor, eps: float, iters: int = 3) -> torch.Tensor:
    """K x B orientation as in the paper: rows = prototypes (mass 1/K each), columns = samples (1/B each)."""
    q = torch.exp((feats @ protos.T).detach() / eps).T
    q = q / q.sum()
    k, b = q.shape
    for _ in range(iters):
        q = _l1_rows(q) / k
        q = _l1_cols(q) / b
    return (q * b).T


def ref_step(feats, protos, labels, n_classes, m_protos, k, proto_m, temp=0.1, eps=0.05, lambda_pcon=1.0):
    """The reference's ``forward``: returns total, mle, pcon, updated prototypes, MLE weights."""
    owner = torch.arange(n_classes).repeat(m_protos)
    mask = (labels[:, None] == owner[None, :]).to(feats.dtype)
    q = ref_sinkhorn(feats, protos, eps)
    update = mask * q
    top = torch.zeros_like(update).scatter(1, torch.topk(update, k, dim=1).indices, 1.0)
    update = _l1_cols(_l1_rows(top * update))
    moved = proto_m * protos + (1 - proto_m) * (update.T @ feats)
    new = F.normalize(moved, dim=1)
    q2 = ref_sinkhorn(feats, new.detach(), eps)
    top2 = torch.zeros_like(update).scatter(1, torch.topk(update, k, dim=1).indices, 1.0)
    weights = _l1_rows(top2 * (mask * q2))
    logits = feats @ new.detach().T / temp
    mle = -torch.mean((weights * logits).sum(1) - torch.log(torch.exp(logits).sum(1)))
    # prototype contrastive loss
    pn = F.normalize(new, dim=1)
    same = (owner[:, None] == owner[None, :]).to(feats.dtype)
    sims = pn @ pn.T / 0.5
    logits_p = sims - sims.max(1, keepdim=True).values.detach()
    not_self = 1.0 - torch.eye(len(pn), dtype=feats.dtype)
    pos = _l1_rows(same * not_self)
    log_prob = (pos * logits_p).sum(1) - torch.log((not_self * torch.exp(logits_p)).sum(1))
    pcon = -log_prob.mean()
    return mle + lambda_pcon * pcon, mle, pcon, new, weights


def _inputs(b, c, m, d, seed):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(b, d, generator=g), dim=1)
    protos = F.normalize(torch.randn(c * m, d, generator=g), dim=1)
    # two views of the same images share labels, as in the training step
    labels = torch.randint(0, c, (b // 2,), generator=g).repeat(2)
    return z, protos, labels


def _params(m, k, proto_m):
    return SimpleNamespace(num_protos=m, top_k=k, temperature=0.1, proto_temperature=0.5, epsilon=0.05,
                           sinkhorn_iters=3, proto_m=proto_m, lambda_pcon=1.0)


def ours(z, protos, labels, c, p, assignment="reference"):
    z = z.clone().float().requires_grad_(True)
    mle, pcon, new = palm.palm_losses(z, protos.float(), labels, c, p, assignment)
    total = mle + p.lambda_pcon * pcon
    (grad,) = torch.autograd.grad(total, z)
    return total.detach().double(), mle.detach().double(), pcon.detach().double(), new.detach().double(), grad


def reference(z, protos, labels, c, m, k, proto_m):
    z = z.clone().double().requires_grad_(True)
    total, mle, pcon, new, weights = ref_step(z, protos.double(), labels, c, m, min(k, m), proto_m)
    (grad,) = torch.autograd.grad(total, z)
    return total.detach(), mle.detach(), pcon.detach(), new.detach(), grad, weights


def max_differences(b, c, m, d, k, proto_m, seed=0, assignment="reference") -> dict[str, float]:
    z, protos, labels = _inputs(b, c, m, d, seed)
    p = _params(m, k, proto_m)
    got = ours(z, protos, labels, c, p, assignment)
    want = reference(z, protos, labels, c, m, k, proto_m)
    names = ("loss", "mle", "pcon", "prototypes", "feature_grad")
    return {n: float((g.double() - w).abs().max()) for n, g, w in zip(names, got, want[:5])}


@pytest.mark.parametrize("size", SIZES, ids=[f"B{s[0]}-C{s[1]}-M{s[2]}-d{s[3]}-k{s[4]}" for s in SIZES])
@pytest.mark.parametrize("seed", [0, 1])
def test_default_matches_the_reference_losses_gradients_and_prototypes(size, seed):
    diffs = max_differences(*size, seed=seed)
    assert diffs["loss"] < 5e-6 and diffs["mle"] < 5e-6 and diffs["pcon"] < 5e-6, diffs
    assert diffs["prototypes"] < 1e-6, diffs
    assert diffs["feature_grad"] < 1e-6, diffs


@pytest.mark.parametrize("size", SIZES[:3])
def test_default_mle_weights_are_the_post_update_assignment(size):
    b, c, m, d, k, proto_m = size
    z, protos, labels = _inputs(b, c, m, d, 3)
    p = _params(m, k, proto_m)
    q = palm.sinkhorn(z @ protos.T, p.epsilon, p.sinkhorn_iters)
    w = palm.assignment_weights(q, labels, c, m, k)
    new = palm.ema_prototypes(protos, z, w, proto_m)
    q_new = palm.sinkhorn(z @ new.T, p.epsilon, p.sinkhorn_iters)
    got = palm.loss_weights(q_new, w, labels, c, m, k)
    want = reference(z, protos, labels, c, m, k, proto_m)[5]
    torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=0)
    torch.testing.assert_close(palm.sinkhorn(z @ protos.T, 0.05, 3).double(), ref_sinkhorn(z.double(),
                               protos.double(), 0.05), atol=1e-6, rtol=0)


def test_one_prototype_per_class_gives_the_reference_non_zero_contrastive_loss():
    g = torch.Generator().manual_seed(5)
    protos = F.normalize(torch.randn(6, 16, generator=g), dim=1).double()
    pcon = palm.proto_contrastive_loss(protos, 6, 0.5)
    sims = protos @ protos.T / 0.5
    off = ~torch.eye(6, dtype=torch.bool)
    # no positives: the loss is logsumexp over the other prototypes minus the row maximum (self, 1/0.5)
    want = torch.stack([torch.logsumexp(sims[i][off[i]], 0) - sims[i].max() for i in range(6)]).mean()
    assert abs(float(pcon)) > 0.1
    torch.testing.assert_close(pcon, want)


def test_pre_update_option_really_changes_loss_and_gradient():
    """The earlier variant is reachable and differs from the reference by the amounts documented."""
    diffs = max_differences(64, 6, 6, 32, 5, 0.95, seed=0, assignment="pre-update")
    assert diffs["mle"] > 1e-4 and diffs["feature_grad"] > 1e-5, diffs
    assert diffs["prototypes"] < 1e-6  # the EMA update itself is the same in both
    with pytest.raises(ValueError, match="palm_assignment"):
        palm.palm_losses(torch.zeros(2, 4), torch.eye(4), torch.zeros(2, dtype=torch.long), 2, _params(2, 1, 0.9),
                         "post")


def test_training_step_uses_the_reference_computation_and_stores_the_updated_prototypes():
    """PALMMethod.loss end to end on the zoo network shape (identity augmentation so both sides see the same z)."""
    from wb_oodtrain.network import build_network
    from wb_oodtrain.params import PALMParams

    params = PALMParams(num_protos=3, top_k=2, proto_m=0.9, proj_dim=16, width=4)
    torch.manual_seed(0)
    arch = {"backbone": "digits-cnn", "width": 4, "in_channels": 1, "num_classes": 6, "mean": (0.0,),
            "std": (1.0,), "head": "prototypes", "num_protos": 3, "proj_dim": 16, "temperature": 0.1}
    net = build_network(arch).eval()  # eval: BatchNorm with running statistics, the same on both passes
    method = palm.PALMMethod(params, 6, lambda x, gen: x)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(10, 1, 32, 32, generator=g), torch.randint(0, 6, (10,), generator=g)
    before = net.fc.prototypes.clone()
    loss, logs = method.loss(net, net, x, y, g, 0, 1)
    with torch.no_grad():
        _, _, z = net(torch.cat([x, x]), with_features=True)
    total, mle, pcon, new, _, _ = reference(z, before, torch.cat([y, y]), 6, 3, 2, 0.9)
    assert abs(loss.item() - float(total)) < 5e-6 and abs(logs["mle"] - float(mle)) < 5e-6
    torch.testing.assert_close(net.fc.prototypes.double(), new, atol=1e-6, rtol=0)
