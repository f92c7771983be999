"""The VBReg trainer: synthetic correspondences, the ELBO-style loss of the reference code, resumable
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
from wb_registration.vbreg_net import VBRegNet
from wb_registration.zoo import make_card, save_model
from workbench.api import Curves, MetricsTable, Progress, RunContext


def training_batch(seed: int, step: int, params: TrainVBRegParams) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, 6) matches and (B, N) labels for one step, from the synthetic generator."""
    rng = np.random.default_rng([seed, step])
    corr, labels = [], []
    for _ in range(params.batch_size):
        pair = make_pair(shape=str(rng.choice(["dem", "blob"])), n_points=2000, n_matches=params.n_matches,
                         outlier_ratio=float(rng.uniform(params.outlier_min, params.outlier_max)),
                         outlier_model=str(rng.choice(["surface", "box"])), eps=params.eps,
                         seed=int(rng.integers(2**31)))
        x, y = pair.matches
        corr.append(np.c_[x, y])
        labels.append(pair.truth)
    return torch.tensor(np.stack(corr), dtype=torch.float32), torch.tensor(np.stack(labels), dtype=torch.float32)


def branch_loss(logits: torch.Tensor, compat: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Class-balanced BCE on the inlier logits plus PointDSC's spectral-matching loss on the last layer's
    compatibility (target b_i b_j), balanced between inlier pairs and the rest so that rare inliers count."""
    pos = labels.sum().clamp(min=1.0)
    pos_weight = ((labels.numel() - pos) / pos).clamp(max=100.0)
    bce = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight)
    target = labels[:, :, None] * labels[:, None, :]
    positive = target.sum().clamp(min=1.0)
    negative = (1 - target).sum().clamp(min=1.0)
    sm = (((compat - 1) ** 2) * target).sum() / positive + ((compat ** 2) * (1 - target)).sum() / negative
    return bce + 0.5 * sm


def training_loss(net: VBRegNet, corr: torch.Tensor, labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """0.5 (BCE + SM) with posterior latents + 0.5 (BCE + SM) with prior latents + 0.5 balanced KL."""
    b, n, _ = corr.shape
    shape = (b, *net.noise_shape(n))
    logits_q, _, compat_q, kl = net(corr, torch.randn(shape, generator=gen), labels)
    logits_p, _, compat_p, _ = net(corr, torch.randn(shape, generator=gen))
    return (0.5 * branch_loss(logits_q, compat_q[:, -1], labels)
            + 0.5 * branch_loss(logits_p, compat_p[:, -1], labels) + 0.5 * kl)


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
            est = vbreg(x, y, eps, infer, seed=i, n_min=settings.vbreg_n_min, kappa=settings.vbreg_kappa)
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
    start, losses = 0, []
    signature = {"config": str(sorted(net.config.items()))}
    if params.resume:
        state = ctx.resume(params.resume, net, opt, signature=signature)
        start, losses = state.step, [list(v) for v in state.extra["losses"].tolist()]
    for step in range(start, params.steps):
        ctx.check_cancelled()
        net.train()
        corr, labels = training_batch(ctx.seed, step, params)
        gen = torch.Generator().manual_seed(ctx.seed * 1_000_003 + step)
        loss = training_loss(net, corr.to(device), labels.to(device), gen)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        losses.append([step + 1, loss.item()])
        if (step + 1) % params.checkpoint_every == 0 or step + 1 == params.steps:
            ctx.save_checkpoint(step + 1, net, opt, signature=signature,
                                extra={"losses": torch.tensor(losses, dtype=torch.float64)})
            yield Curves(name="training", title="VBReg training loss", x_label="step", y_label="loss",
                         series={"loss": np.array(losses, float).T})
        yield Progress((step + 1) / params.steps, f"step {step + 1}: loss {losses[-1][1]:.4f}",
                       metrics={"loss": losses[-1][1]})
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
    card = make_card(metrics, net.config)
    (ctx.artifacts / "card.json").write_text(card.to_json())
    if params.publish:
        ctx.publish_model(card, {card.weights: weights})
    ctx.log(f"weights: {weights}, card: {ctx.artifacts / 'card.json'}")
    yield MetricsTable(name="evaluation", title="VBReg held-out evaluation", columns=["metric", "value"],
                       rows=[[k, v] for k, v in metrics.items()], notes=f"weights: {weights}{onnx_note}")
