"""The VBReg trainer: synthetic correspondences, the loss of the reference code (Jiang-HB/VBReg @ 6e62289,
``libs/trainer.py`` and ``libs/loss.py`` with the released configs; earlier variants are options), resumable
checkpoints, a held-out evaluation, ONNX export, and (for the zoo recipe) the model card.

Data and latent noise are drawn from generators seeded by (run seed, step), so a resumed run sees exactly
the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from wb_registration.metrics import inlier_scores, pose_metrics
from wb_registration.params import EstimatorFields, TrainVBRegParams
from wb_registration.synthetic import make_pair
from wb_registration.vbreg import VBRegInference, vbreg
from wb_registration.vbreg_net import VBRegNet, feature_compatibility
from wb_registration.zoo import loss_description, make_card, save_model
from workbench.api import Curves, Distributed, MetricsTable, Progress, RunContext


def training_batch(seed: int, step: int, params: TrainVBRegParams, dist: Distributed | None = None,
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, 6) matches and (B, N) labels for one step, from the synthetic generator; under data parallelism
    this rank's share of the global batch (every rank draws all pairs' settings, builds its own pairs)."""
    rng = np.random.default_rng([seed, step])
    settings = [dict(shape=str(rng.choice(["dem", "blob"])), outlier_ratio=float(rng.uniform(params.outlier_min,
                     params.outlier_max)), outlier_model=str(rng.choice(["surface", "box"])),
                     seed=int(rng.integers(2**31))) for _ in range(params.batch_size)]
    corr, labels = [], []
    for setting in (dist or Distributed()).share(settings):
        pair = make_pair(n_points=2000, n_matches=params.n_matches, eps=params.eps, **setting)
        x, y = pair.matches
        corr.append(np.c_[x, y])
        labels.append(pair.truth)
    return torch.tensor(np.stack(corr), dtype=torch.float32), torch.tensor(np.stack(labels), dtype=torch.float32)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """BCE on the inlier logits over the whole batch.

    ``bce``: plain mean BCE (the released VBReg configs, ``balanced: false``). ``balanced-bce``: the reference's
    ``balanced=True`` form, positives weighted by #negatives / #positives (each at least 1). ``balanced-bce-capped``:
    the workbench's earlier form, the same weight capped at 100.
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, labels)
    pos = labels.sum()
    if kind == "balanced-bce":
        weight = (torch.relu(labels.numel() - pos - 1) + 1) / (torch.relu(pos - 1) + 1)
    elif kind == "balanced-bce-capped":
        pos = pos.clamp(min=1.0)
        weight = ((labels.numel() - pos) / pos).clamp(max=100.0)
    else:
        raise ValueError(f"classification_loss: unknown {kind!r}")
    return F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight)


def spectral_loss(cosine: torch.Tensor, labels: torch.Tensor, sigma2: torch.Tensor, kind: str = "mse",
                  ) -> torch.Tensor:
    """PointDSC's spectral-matching loss on the last layer's feature compatibility against b_i b_j.

    ``mse``: the released configs' plain MSE, compatibility and target with zero diagonals, averaged over all
    B x N x N entries. ``balanced``: the reference's ``balanced=True`` form, per sample 0.5 (inlier-pair mean of
    (S-1)^2) + 0.5 (mean of S^2 over the rest), then averaged over the batch (zero diagonals). ``balanced-pooled``:
    the workbench's earlier form, the diagonal kept and both means pooled over the batch.
    """
    if kind == "balanced-pooled":
        compat = feature_compatibility(cosine, sigma2)
        target = labels[:, :, None] * labels[:, None, :]
        positive = target.sum().clamp(min=1.0)
        negative = (1 - target).sum().clamp(min=1.0)
        return 0.5 * ((((compat - 1) ** 2) * target).sum() / positive + ((compat ** 2) * (1 - target)).sum() / negative)
    compat = feature_compatibility(cosine, sigma2, zero_diagonal=True)
    off = 1.0 - torch.eye(labels.shape[1], dtype=labels.dtype, device=labels.device)
    target = labels[:, :, None] * labels[:, None, :] * off
    if kind == "mse":
        return F.mse_loss(compat, target)
    if kind != "balanced":
        raise ValueError(f"spectral_loss: unknown {kind!r}")
    n_pos = torch.relu(target.sum(dim=(1, 2)) - 1.0) + 1.0
    n_neg = torch.relu((1 - target).sum(dim=(1, 2)) - 1.0) + 1.0
    pos = (((compat - 1) ** 2) * target).sum(dim=(1, 2)) / n_pos
    neg = ((compat ** 2) * (1 - target)).sum(dim=(1, 2)) / n_neg
    return (0.5 * pos + 0.5 * neg).mean()


def kl_loss(kl: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The balanced KL of each (layer, role): ``mean`` over layers x {Q, K, V} (the reference); ``sum-qkv`` sums
    the three roles and averages the layers (the workbench's earlier form, 3 x the reference's weight)."""
    if reduction == "mean":
        return kl.mean()
    if reduction == "sum-qkv":
        return kl.sum(dim=1).mean()
    raise ValueError(f"kl_reduction: unknown {reduction!r}")


def training_loss(net: VBRegNet, corr: torch.Tensor, labels: torch.Tensor, gen: torch.Generator,
                  classification: str = "bce", spectral: str = "mse", kl_reduction: str = "mean",
                  terms: dict | None = None, dist: Distributed | None = None, global_batch: int | None = None,
                  module: torch.nn.Module | None = None) -> torch.Tensor:
    """0.5 (BCE + SM) with posterior latents + 0.5 (BCE + SM) with prior latents + 0.5 KL, as VBReg's
    ``trainer.py`` (mix ratio 0.5, kl weight 1) with ``loss.py``'s terms; ``terms`` collects each term.

    Under data parallelism ``corr`` is this rank's share of ``global_batch`` pairs, the noise is drawn for the
    global batch and shared out the same way, ``module`` is the DDP-wrapped ``net`` and the loss is scaled so that
    DDP's average over ranks is the global batch's."""
    dist = dist or Distributed()
    b, n, _ = corr.shape
    total = global_batch or b
    shape = (total, *net.noise_shape(n))
    forward = module or net
    logits_q, _, cos_q, kl = forward(corr, dist.share(torch.randn(shape, generator=gen)), labels)
    logits_p, _, cos_p, _ = forward(corr, dist.share(torch.randn(shape, generator=gen)))
    sigma2 = net.sigma2
    parts = {"bce_posterior": classification_loss(logits_q, labels, classification),
             "bce_prior": classification_loss(logits_p, labels, classification),
             "sm_posterior": spectral_loss(cos_q[:, -1], labels, sigma2, spectral),
             "sm_prior": spectral_loss(cos_p[:, -1], labels, sigma2, spectral),
             "kl": kl_loss(kl, kl_reduction)}
    if terms is not None:
        terms.update(parts)
    loss = 0.5 * (parts["bce_posterior"] + parts["sm_posterior"]) + 0.5 * (parts["bce_prior"] + parts["sm_prior"]) \
        + 0.5 * parts["kl"]
    return loss * dist.loss_scale(b, total)


def evaluate(net: VBRegNet, eps: float, pairs: int, seed: int = 10_000) -> dict[str, float]:
    """Held-out success (RE < 5 deg, TE < 0.05) at 95 % and 99 % surface outliers, and classifier F1 at 90 %."""
    infer = VBRegInference(net.eval())
    settings = EstimatorFields()
    metrics: dict[str, float] = {}
    for ratio in (0.95, 0.99):
        wins = 0
        for i in range(pairs):
            pair = make_pair(outlier_ratio=ratio, seed=seed + i, eps=eps)
            x, y = pair.matches
            est = vbreg(x, y, eps, infer, seed=i, n_min=settings.vbreg_n_min, kappa=settings.vbreg_kappa,
                        variant=settings.vbreg_variant)
            m = pose_metrics(est.transform, pair.transform)
            wins += est.status == "ok" and m["RE_deg"] < 5 and m["TE"] < 0.05
        metrics[f"success_at_{int(ratio * 100)}pct_outliers"] = wins / max(pairs, 1)
    f1 = []
    for i in range(pairs):
        pair = make_pair(outlier_ratio=0.9, seed=seed + 500 + i, eps=eps)
        logits = infer(*pair.matches, seed=i)[0]
        f1.append(inlier_scores(logits > 0, pair.truth)["inlier_f1"])
    metrics["classifier_inlier_f1_at_90pct"] = float(np.mean(f1)) if f1 else 0.0
    return metrics


def run(params: TrainVBRegParams, ctx: RunContext):
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    device = torch.device(ctx.device)
    net = VBRegNet(layers=params.layers, dim=params.dim, hidden=params.hidden, latent=params.latent,
                   sigma_d=params.eps).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    dist = ctx.distributed()
    module = dist.wrap(net, ctx.device)
    signature = {"config": str(sorted(net.config.items()))}
    state = ctx.start_or_resume(params.resume, net, opt, signature=signature)
    start, losses = state.step, state.history("losses")
    for step in range(start, params.steps):
        ctx.check_cancelled()
        net.train()
        corr, labels = training_batch(ctx.seed, step, params, dist)
        gen = torch.Generator().manual_seed(ctx.seed * 1_000_003 + step)
        loss = training_loss(net, corr.to(device), labels.to(device), gen, params.classification_loss,
                             params.spectral_loss, params.kl_reduction, dist=dist, global_batch=params.batch_size,
                             module=module)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        losses.append([step + 1, loss.item() / dist.loss_scale(len(corr), params.batch_size)])
        if (step + 1) % params.checkpoint_every == 0 or step + 1 == params.steps:
            ctx.save_checkpoint(step + 1, net, opt, signature=signature,
                                extra={"losses": torch.tensor(losses, dtype=torch.float64)})
            yield Curves(name="training", title="VBReg training loss", x_label="step", y_label="loss",
                         series={"loss": np.array(losses, float).T})
        yield Progress((step + 1) / params.steps, f"step {step + 1}: loss {losses[-1][1]:.4f}",
                       metrics={"loss": losses[-1][1]})
    dist.leave()
    net = net.cpu().eval()
    weights = ctx.artifacts / "model.safetensors"
    save_model(net, weights, {"steps": str(params.steps), "seed": str(ctx.seed)})
    yield Progress(None, "evaluating on held-out pairs")
    held_out = evaluate(net, params.eps, params.eval_pairs) if params.eval_pairs else {}
    metrics = {k: round(v, 4) for k, v in held_out.items()}
    metrics["final_loss"] = round(float(np.mean([v for _, v in losses[-20:]])), 4) if losses else float("nan")
    onnx_note = ""
    if params.export_onnx:
        from wb_registration.export import export_vbreg

        report = export_vbreg(net, ctx.artifacts / "model.onnx")
        metrics["onnx_max_abs_diff"] = float(f"{report.worst:.3g}")
        onnx_note = f"; ONNX ({report.exporter}) parity {report.worst:.2g}"
    card = make_card(metrics, net.config,
                     loss_description(params.classification_loss, params.spectral_loss, params.kl_reduction))
    (ctx.artifacts / "card.json").write_text(card.to_json())
    if params.publish:
        ctx.publish_model(card, {card.weights: weights})
    ctx.log(f"weights: {weights}, card: {ctx.artifacts / 'card.json'}")
    yield MetricsTable(name="evaluation", title="VBReg held-out evaluation", columns=["metric", "value"],
                       rows=[[k, v] for k, v in metrics.items()], notes=f"weights: {weights}{onnx_note}")
