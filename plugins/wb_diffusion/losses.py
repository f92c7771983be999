"""Preference losses on per-sample diffusion errors: MaPO (no reference model) and Diffusion-DPO (with one).

Both take per-sample errors ``ℓ`` (mean over C, H, W of the squared prediction error, :func:`per_sample_error`) of
the chosen (``w``) and rejected (``l``) halves of a batch that share noise and timestep. Each returns the scalar
loss and the terms a trainer logs, as floats detached from the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PreferenceLoss:
    """The loss to backpropagate and the logged terms (names as they appear in curves and progress metrics)."""

    loss: torch.Tensor
    terms: dict[str, float]


def diffusion_target(scheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the UNet should predict: the noise for ``epsilon`` models, the velocity for ``v_prediction``."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    raise ValueError(f"prediction_type {kind!r} is not supported for preference tuning (epsilon, v_prediction)")


def per_sample_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample over every axis but the batch, in fp32."""
    return F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=list(range(1, pred.ndim)))


def bounded_score(err: torch.Tensor, lam: float) -> torch.Tensor:
    """MaPO's score s = λℓ / (exp(λℓ) − 1) in (0, 1], with its ℓ → 0 limit 1 (0/0 in plain arithmetic)."""
    x = lam * err
    safe = torch.where(x == 0, torch.ones_like(x), x)
    return torch.where(x == 0, torch.ones_like(x), safe / torch.expm1(safe))


def mapo_loss(err_w: torch.Tensor, err_l: torch.Tensor, beta: float = 0.1, lam: float = 0.5,
              multiplier: float = 1000.0) -> PreferenceLoss:
    """L = mean ℓ_w − β · mean log σ(T · (s(ℓ_w) − s(ℓ_l))), T = ``multiplier`` (num_train_timesteps)."""
    score_w, score_l = bounded_score(err_w, lam), bounded_score(err_l, lam)
    margin = F.logsigmoid(multiplier * (score_w - score_l))
    sft = err_w.mean()
    margin_term = -beta * margin.mean()
    loss = sft + margin_term
    return PreferenceLoss(loss, {
        "loss": float(loss.detach()), "sft": float(sft.detach()), "margin": float(margin_term.detach()),
        "win_score": float(score_w.detach().mean()), "lose_score": float(score_l.detach().mean()),
        "err_w": float(err_w.detach().mean()), "err_l": float(err_l.detach().mean()),
        "implicit_acc": float((score_w > score_l).float().mean()),
    })


def dpo_loss(err_w: torch.Tensor, err_l: torch.Tensor, ref_err_w: torch.Tensor, ref_err_l: torch.Tensor,
             beta: float = 2500.0) -> PreferenceLoss:
    """Diffusion-DPO: L = −mean log σ(−(β/2) · ((ℓ_w − ℓ_l) − (ℓ_w^ref − ℓ_l^ref))).

    Implicit accuracy counts a pair right when the inside term is positive and half right when it is exactly zero,
    so a model equal to its reference scores 0.5 (chance), not 0.
    """
    inside = -0.5 * beta * ((err_w - err_l) - (ref_err_w - ref_err_l))
    loss = -F.logsigmoid(inside).mean()
    return PreferenceLoss(loss, {
        "loss": float(loss.detach()), "err_w": float(err_w.detach().mean()), "err_l": float(err_l.detach().mean()),
        "ref_err_w": float(ref_err_w.detach().mean()), "ref_err_l": float(ref_err_l.detach().mean()),
        "implicit_acc": float((inside > 0).float().mean() + 0.5 * (inside == 0).float().mean()),
    })
