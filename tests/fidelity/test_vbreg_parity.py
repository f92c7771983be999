"""VBReg parity: our default test-time stages and training loss against the authors' computation, written out
here independently in torch from a reading of https://github.com/Jiang-HB/VBReg at commit
6e62289529f8708d6be078641665abade957ac76:

* test time: ``models/VBReg.py`` (``VBNonLocalBlock.message_passing``: voting compatibility with the sigma the
  blocks were built with, 1.0; ``consensus_sampling``: voters per layer as [attention, compatibility], the list
  reversed, diagonals zeroed, Wilson lower bound, max over voters; ``pick_seeds_nms`` on the raw logits),
  ``models/VBPointDSC.py`` (``get_consensus_feat_compatibility`` with the learned sigma, ``cal_seed_trans``)
  and ``models/BaseModel.py`` (spatial compatibility, power iteration, weighted SVD, ``metric``,
  ``post_refinement``), with the 3DMatch release config (ratio 0.1, n_points_min 1000 here scaled down by the
  callers, k 40, 10 power steps, nms_radius = inlier_threshold);
* training: ``libs/trainer.py`` (``mix_ratio`` 0.5, ``kl_weight`` 1, ``kl_balance`` 0.8, the KL averaged over
  the list of layers x {Q, K, V}) and ``libs/loss.py`` (``ClassificationLoss``, ``SpectralMatchingLoss`` with
  the released ``balanced: false``, and their ``balanced=True`` forms).

The network is ours (its layers are not compared); the closed-form stages get the same network outputs.
Exact ties in a ranking go to the lower index, as in our code (torch's default sort and topk do not promise an
order for ties).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reference_consensus import _power, _ranked, _weighted_svd

from wb_registration.synthetic import make_pair, structured_decoy_pair
from wb_registration.train import classification_loss, kl_loss, spectral_loss, training_batch, training_loss
from wb_registration.vbreg import VBRegInference, vbreg
from wb_registration.vbreg_net import VBRegNet

EPS = 0.03
Z = 1.96


# --- the reference, written out --------------------------------------------------------------------------
def reference_vbreg(src, tgt, logits, attention, cosine, sigma2, eps=EPS, ratio=0.1, n_min=1000, k=40) -> dict:
    """``attention`` and ``cosine`` as the exported network gives them: (N, L, N)."""
    x, y = torch.tensor(src, dtype=torch.float32), torch.tensor(tgt, dtype=torch.float32)
    n, layers = len(x), attention.shape[1]
    src_dist = torch.norm(x[:, None] - x[None], dim=-1)
    spatial = torch.clamp(1.0 - (src_dist - torch.norm(y[:, None] - y[None], dim=-1)) ** 2 / eps ** 2, min=0)
    scores = torch.tensor(logits)
    is_max = ((scores[:, None] >= scores[None, :]) | (src_dist >= eps)).all(dim=1).float()
    seeds = _ranked(scores * is_max)[: max(n_min, int(ratio * n))]
    # one attention map and one compatibility (sigma fixed at 1.0) per layer; the list reversed
    voters = []
    for layer in range(layers):
        feat = torch.clamp(1 - (1 - torch.tensor(cosine[:, layer])) / 1.0 ** 2, min=0, max=1)
        feat[torch.arange(n), torch.arange(n)] = 0.0
        voters += [torch.tensor(attention[:, layer]).clone(), feat * spatial]
    voters.reverse()
    votes = torch.zeros(len(seeds), n)
    s_max = None
    for count, voter in enumerate(voters, start=1):
        voter[torch.arange(n), torch.arange(n)] = 0.0
        chosen = _ranked(voter[seeds])[:, : k - 1]
        votes.scatter_add_(1, chosen, torch.ones_like(chosen, dtype=torch.float32))
        p = votes / count
        s = (p + Z ** 2 / (2.0 * count) - Z * torch.sqrt(p * (1.0 - p) / count + Z ** 2 / (4 * count ** 2))) \
            / (1.0 + Z ** 2 / count)
        s_max = s if s_max is None else torch.maximum(s, s_max)
    groups = torch.cat([seeds[:, None], _ranked(s_max)[:, : k - 1]], dim=1)
    # hypothesis weights: the final features' compatibility at the learned sigma (clipped at 0) x spatial
    last = torch.tensor(cosine[:, -1])
    feat = torch.clamp(1 - (1 - last[groups[:, :, None], groups[:, None, :]]) / sigma2, min=0)
    gs, gt = x[groups], y[groups]
    gd = torch.norm(gs[:, :, None] - gs[:, None], dim=-1) - torch.norm(gt[:, :, None] - gt[:, None], dim=-1)
    m = feat * torch.clamp(1 - gd ** 2 / eps ** 2, min=0)
    m[:, torch.arange(k), torch.arange(k)] = 0.0
    weights = _power(m)
    weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-6)
    hypotheses = _weighted_svd(gs, gt, weights)
    r = torch.norm(torch.einsum("sij,nj->sni", hypotheses[:, :3, :3], x) + hypotheses[:, None, :3, 3] - y, dim=-1)
    fitness = ((r < eps).float() * (1.0 - r ** 2 / eps ** 2)).mean(-1)
    final, previous = hypotheses[fitness.argmax()], 0
    for _ in range(20):
        rr = torch.norm(x @ final[:3, :3].T + final[:3, 3] - y, dim=-1)
        inl = rr < eps
        if int(inl.sum()) == previous:
            break
        previous = int(inl.sum())
        final = _weighted_svd(x[inl][None], y[inl][None], (1 / (1 + (rr / eps) ** 2))[inl][None])[0]
    return {"seeds": seeds.numpy(), "groups": groups.numpy(), "weights": weights.numpy(),
            "transforms": hypotheses.double().numpy(), "scores": fitness.numpy(), "final": final.double().numpy()}


# --- inputs ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = VBRegNet(layers=3, dim=16, hidden=16, latent=8, label_dim=8).eval()
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.6))  # a learned sigma away from its initial 1
    return model


def _pairs():
    out = {
        "surface-120-80": make_pair(n_points=3000, n_matches=120, outlier_ratio=0.8, seed=0).matches,
        "surface-400-95": make_pair(n_points=4000, n_matches=400, outlier_ratio=0.95, seed=1).matches,
        "structured-300-90": make_pair(n_points=4000, n_matches=300, outlier_ratio=0.9, outlier_model="structured",
                                       seed=2).matches,
        "decoy-300": structured_decoy_pair(n_matches=300, inlier_fraction=0.15, decoy_fraction=0.3, seed=3)[0].matches,
    }
    x, y = make_pair(n_points=3000, n_matches=300, outlier_ratio=0.6, seed=4).matches
    out["dense-300"] = (x * 0.2, y * 0.2)
    return out


PAIRS = _pairs()


@pytest.mark.parametrize("n_min", [1000, 150])  # every match a seed; NMS seeds (dense-300: with a fill)
@pytest.mark.parametrize("case", list(PAIRS))
def test_test_time_stages_match_the_reference(net, case, n_min):
    x, y = PAIRS[case]
    infer = VBRegInference(net)
    logits, attention, cosine = infer(x, y, seed=7)
    ref = reference_vbreg(x, y, logits, attention, cosine, infer.sigma2, n_min=n_min)
    ours = vbreg(x, y, EPS, infer, seed=7, n_min=n_min, return_stages=True)
    st = ours.stages
    assert np.array_equal(st["seeds"], ref["seeds"])
    assert np.array_equal(st["groups"], ref["groups"])
    np.testing.assert_allclose(st["weights"], ref["weights"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(st["transforms"], ref["transforms"], atol=2e-5)
    np.testing.assert_allclose(st["scores"], ref["scores"], atol=2e-5)
    assert np.max(np.abs(ours.transform - ref["final"])) < 1e-5


def test_zoo_model_test_time_stages_match_the_reference():
    from wb_registration.zoo import load_model

    infer = VBRegInference(load_model())
    x, y = make_pair(n_points=5000, n_matches=1000, outlier_ratio=0.95, seed=11).matches
    logits, attention, cosine = infer(x, y, seed=0)
    ref = reference_vbreg(x, y, logits, attention, cosine, infer.sigma2)
    ours = vbreg(x, y, EPS, infer, seed=0, return_stages=True)
    assert np.array_equal(ours.stages["seeds"], ref["seeds"])
    assert np.array_equal(ours.stages["groups"], ref["groups"])
    assert np.max(np.abs(ours.transform - ref["final"])) < 1e-5


def test_workbench_variant_changes_seeds_votes_and_hypotheses(net):
    infer = VBRegInference(net)
    x, y = PAIRS["dense-300"]  # few local maxima: the fill rule decides most seeds
    ref = vbreg(x, y, EPS, infer, seed=7, n_min=150, return_stages=True).stages
    wb = vbreg(x, y, EPS, infer, seed=7, n_min=150, variant="workbench", return_stages=True).stages
    assert len(np.setdiff1d(ref["seeds"], wb["seeds"])) > 0  # raw logit x flag vs sigmoid, index vs confidence
    x, y = PAIRS["surface-400-95"]  # every match a seed: compare each seed's hypothesis
    ref = vbreg(x, y, EPS, infer, seed=7, return_stages=True).stages
    wb = vbreg(x, y, EPS, infer, seed=7, variant="workbench", return_stages=True).stages
    wb_row = {s: set(row) for s, row in zip(wb["seeds"], wb["groups"])}
    agree = np.mean([set(row) == wb_row[s] for s, row in zip(ref["seeds"], ref["groups"])])
    assert agree < 0.9  # voter order, self-exclusion and voting sigma change the hypotheses
    assert all(len(set(g)) == len(g) for g in wb["groups"])  # a seed never joins itself


def test_a_seed_can_join_its_own_hypothesis_in_the_reference(net):
    """Few positive compatibilities: the zeroed diagonal ties with the zeros and the lower index wins."""
    x, y = PAIRS["decoy-300"]
    infer = VBRegInference(net)
    st = vbreg(x, y, EPS, infer, seed=7, kappa=120, return_stages=True).stages
    assert any(len(set(g)) < len(g) for g in st["groups"])


# --- training loss ------------------------------------------------------------------------------------------
def _reference_classification(pred, gt, balanced):
    if not balanced:
        return torch.nn.BCEWithLogitsLoss(reduction="mean")(pred, gt)
    num_pos = torch.relu(torch.sum(gt) - 1) + 1
    num_neg = torch.relu(torch.sum(1 - gt) - 1) + 1
    return torch.nn.BCEWithLogitsLoss(pos_weight=num_neg * 1.0 / num_pos, reduction="mean")(pred, gt)


def _reference_spectral(m, gt_labels, balanced):
    gt = ((gt_labels[:, None, :] + gt_labels[:, :, None]) == 2).float()
    for i in range(len(gt)):
        gt[i].fill_diagonal_(0)
    if not balanced:
        return torch.nn.MSELoss(reduction="mean")(m, gt)
    pos = ((m - 1) ** 2 * gt).sum(-1).sum(-1) / (torch.relu(gt.sum(-1).sum(-1) - 1.0) + 1.0)
    neg = (m ** 2 * (1 - gt)).sum(-1).sum(-1) / (torch.relu((1 - gt).sum(-1).sum(-1) - 1.0) + 1.0)
    return torch.mean(pos * 0.5 + neg * 0.5)


def _reference_compat(cosine_last, sigma2):
    m = torch.clamp(1 - (1 - cosine_last) / sigma2, min=0, max=1)
    m = m.clone()
    m[:, torch.arange(m.shape[1]), torch.arange(m.shape[1])] = 0.0
    return m


def _gaussians(model: VBRegNet):
    """Hooks that record each (layer, role)'s prior and posterior (mean, std) as the heads produce them."""
    seen = {"prior": [], "posterior": []}
    handles = []
    for layer in model.layers:
        for kind, heads in (("prior", layer.priors), ("posterior", layer.posteriors)):
            for head in heads:
                def hook(_m, _i, out, kind=kind):
                    mu, raw = out.chunk(2, dim=-1)
                    seen[kind].append((mu, F.softplus(raw) + 0.1))
                handles.append(head.register_forward_hook(hook))
    return seen, handles


def reference_training_loss(model, corr, labels, gen, balanced=False):
    shape = (corr.shape[0], *model.noise_shape(corr.shape[1]))
    seen, handles = _gaussians(model)
    try:
        logits_q, _, cos_q, _ = model(corr, torch.randn(shape, generator=gen), labels)
        priors, posteriors = list(seen["prior"]), list(seen["posterior"])
        logits_p, _, cos_p, _ = model(corr, torch.randn(shape, generator=gen))
    finally:
        for h in handles:
            h.remove()
    sigma2 = model.sigma2
    loss = 0.5 * _reference_classification(logits_q, labels, balanced) \
        + 0.5 * _reference_classification(logits_p, labels, balanced) \
        + 0.5 * _reference_spectral(_reference_compat(cos_q[:, -1], sigma2), labels, balanced) \
        + 0.5 * _reference_spectral(_reference_compat(cos_p[:, -1], sigma2), labels, balanced)
    normal, kl_div = torch.distributions.Normal, torch.distributions.kl.kl_divergence
    kl = []
    for (mu_p, s_p), (mu_q, s_q) in zip(priors, posteriors):  # layer-major, Q K V within a layer
        kl.append(0.8 * kl_div(normal(mu_q.detach(), s_q.detach()), normal(mu_p, s_p)).sum(dim=-1).mean()
                  + 0.2 * kl_div(normal(mu_q, s_q), normal(mu_p.detach(), s_p.detach())).sum(dim=-1).mean())
    assert len(kl) == 3 * model.layers_n
    return loss + 0.5 * (sum(kl) / len(kl))


@pytest.mark.parametrize("size", [(2, 48), (3, 96)])
def test_training_loss_and_gradients_match_the_reference(size):
    from wb_registration.params import TrainVBRegParams

    batch, n = size
    torch.manual_seed(1)
    model = VBRegNet(layers=2, dim=16, hidden=16, latent=8, label_dim=8)
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.7))
    corr, labels = training_batch(5, n, TrainVBRegParams(batch_size=batch, n_matches=n))
    ours = training_loss(model, corr, labels, torch.Generator().manual_seed(3))
    ours.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    ref = reference_training_loss(model, corr, labels, torch.Generator().manual_seed(3))
    ref.backward()
    assert abs(ours.item() - ref.item()) < 1e-6 * max(1.0, abs(ref.item()))
    assert set(grads) == {k for k, p in model.named_parameters() if p.grad is not None}
    for name, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(grads[name], p.grad, rtol=1e-4, atol=1e-7, msg=name)


def test_balanced_loss_options_match_the_reference_balanced_forms():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 50, generator=gen, requires_grad=True)
    labels = (torch.rand(3, 50, generator=gen) < 0.2).float()
    cosine = (torch.rand(3, 50, 50, generator=gen) * 2 - 1).requires_grad_(True)
    sigma2 = torch.tensor(0.5)
    ours = classification_loss(logits, labels, "balanced-bce") + spectral_loss(cosine, labels, sigma2, "balanced")
    ref = _reference_classification(logits, labels, True) \
        + _reference_spectral(_reference_compat(cosine, sigma2), labels, True)
    g_ours = torch.autograd.grad(ours, [logits, cosine])
    g_ref = torch.autograd.grad(ref, [logits, cosine])
    assert abs(ours.item() - ref.item()) < 1e-6
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-8)


# --- each option changes the computation ---------------------------------------------------------------------
def test_loss_options_change_the_loss():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 128, generator=gen)
    labels = torch.zeros(2, 128)
    labels[0, :2] = 1  # 254 negatives per positive: the cap of 100 bites
    cosine = torch.rand(2, 128, 128, generator=gen)
    sigma2 = torch.tensor(0.5)
    bce = {k: classification_loss(logits, labels, k).item() for k in ("bce", "balanced-bce", "balanced-bce-capped")}
    assert len({round(v, 6) for v in bce.values()}) == 3
    sm = {k: spectral_loss(cosine, labels, sigma2, k).item() for k in ("mse", "balanced", "balanced-pooled")}
    assert len({round(v, 6) for v in sm.values()}) == 3
    kl = torch.rand(4, 3, generator=gen)
    assert kl_loss(kl, "sum-qkv").item() == pytest.approx(3 * kl_loss(kl, "mean").item(), rel=1e-6)


def test_capped_weight_only_differs_past_a_hundred_to_one():
    labels = torch.zeros(1, 1000)
    labels[0, :5] = 1  # 995 / 5 = 199 > 100
    logits = torch.zeros(1, 1000)
    assert classification_loss(logits, labels, "balanced-bce").item() > \
        classification_loss(logits, labels, "balanced-bce-capped").item()
    labels[0, :50] = 1  # 950 / 50 = 19
    assert classification_loss(logits, labels, "balanced-bce").item() == \
        pytest.approx(classification_loss(logits, labels, "balanced-bce-capped").item(), rel=1e-6)
