"""PALM method checks with known answers (method notes, section 2)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from wb_oodtrain import palm
from wb_oodtrain.scoring import _ssd_plus


def test_sinkhorn_rows_sum_to_one_and_prototype_masses_balance():
    gen = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(64, 16, generator=gen), dim=1)
    p = F.normalize(torch.randn(12, 16, generator=gen), dim=1)
    q = palm.sinkhorn(z @ p.T, epsilon=0.05, iters=3)
    torch.testing.assert_close(q.sum(1), torch.ones(64))
    assert torch.all(q >= 0)
    balanced = palm.sinkhorn(z @ p.T, epsilon=0.5, iters=200)
    torch.testing.assert_close(balanced.sum(0), torch.full((12,), 64 / 12), atol=1e-3, rtol=0)


def test_assignment_stays_in_class_keeps_top_k_and_sums_to_one():
    q = torch.rand(10, 3 * 4)
    y = torch.arange(10) % 3
    w = palm.assignment_weights(q, y, num_classes=3, num_protos=4, top_k=2)
    torch.testing.assert_close(w.sum(1), torch.ones(10))
    assert torch.all((w > 0).sum(1) <= 2)
    assert torch.all(w[~palm.class_mask(y, 3, 4)] == 0)


def test_ema_keeps_prototypes_unit_norm_and_momentum_one_leaves_them_unchanged():
    gen = torch.Generator().manual_seed(1)
    protos = F.normalize(torch.randn(8, 5, generator=gen), dim=1)
    z = F.normalize(torch.randn(20, 5, generator=gen), dim=1)
    w = palm.assignment_weights(torch.rand(20, 8, generator=gen), torch.arange(20) % 2, 2, 4, 3)
    moved = palm.ema_prototypes(protos, z, w, 0.9)
    torch.testing.assert_close(moved.norm(dim=1), torch.ones(8))
    assert float((moved - protos).abs().max()) > 1e-3
    torch.testing.assert_close(palm.ema_prototypes(protos, z, w, 1.0), protos)


def test_prototypes_converge_to_the_modes_of_a_synthetic_mixture():
    """C classes x 3 sub-modes on S^15, fixed features, Sinkhorn + EMA only: every mode gets a prototype."""
    gen = torch.Generator().manual_seed(3)
    c, modes, d = 2, 3, 16
    centres = F.normalize(torch.randn(c, modes, d, generator=gen), dim=2)
    protos = F.normalize(torch.randn(modes * c, d, generator=gen), dim=1)
    for _ in range(300):
        y = torch.randint(0, c, (96,), generator=gen)
        m = torch.randint(0, modes, (96,), generator=gen)
        z = F.normalize(centres[y, m] + 0.05 * torch.randn(96, d, generator=gen), dim=1)
        q = palm.sinkhorn(z @ protos.T, epsilon=0.05, iters=3)
        w = palm.assignment_weights(q, y, c, modes, top_k=1)
        protos = palm.ema_prototypes(protos, z, w, 0.9)
    for k in range(c):
        own = protos[torch.arange(k, c * modes, c)]
        best = (centres[k] @ own.T).max(dim=1).values
        assert torch.all(best > 0.95), best


def test_losses_are_finite_and_the_contrastive_loss_reaches_the_embeddings_through_the_ema():
    gen = torch.Generator().manual_seed(4)
    z = F.normalize(torch.randn(12, 8, generator=gen), dim=1).requires_grad_(True)
    protos = F.normalize(torch.randn(6, 8, generator=gen), dim=1)
    y = torch.arange(12) % 3
    w = palm.assignment_weights(palm.sinkhorn(z.detach() @ protos.T, 0.05, 3), y, 3, 2, 2)
    moved = palm.ema_prototypes(protos, z, w, 0.5)
    pcon = palm.proto_contrastive_loss(moved, 3, 0.5)
    (grad,) = torch.autograd.grad(pcon, z)
    assert torch.isfinite(pcon) and float(grad.abs().sum()) > 0
    assert torch.isfinite(palm.mle_loss(z, moved, w, 0.1))


def test_ssd_plus_separates_an_off_manifold_cluster_and_ignores_feature_scale():
    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, (300, 10)) + np.r_[5.0, np.zeros(9)]
    ood = rng.normal(0, 1, (100, 10)) + np.r_[-5.0, 5.0, np.zeros(8)]
    score = _ssd_plus(train)
    id_s, ood_s = score(train[:100]), score(ood)
    assert id_s.min() > ood_s.max()
    np.testing.assert_allclose(score(3.0 * ood), ood_s, rtol=1e-6)
