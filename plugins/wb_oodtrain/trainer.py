"""The training loop every method shares: seeded batches, cosine lr, optional DDP; checkpoints and resume go
through the host's training lifecycle (``ctx.save_checkpoint`` / ``ctx.resume``).

Randomness is drawn from a generator seeded by ``(seed, step)``, so a run resumed from a checkpoint takes the
same batches, augmentations and method samples as an uninterrupted one. Under ``torchrun`` (``WORLD_SIZE`` set)
the model is wrapped in DistributedDataParallel and each process takes its share of every epoch's order.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.api import Curves, Progress, RunContext


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per-sample random shifts of up to 2 px (zero fill) and, for RGB, horizontal flips."""
    n, c, h, w = x.shape
    shifts = torch.randint(-2, 3, (n, 2), generator=gen)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    out = torch.stack([padded[i, :, 2 - int(dy):2 - int(dy) + h, 2 - int(dx):2 - int(dx) + w]
                       for i, (dy, dx) in enumerate(shifts)])
    if c == 3:
        flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        out = torch.where(flip[:, None, None, None], out.flip(3), out)
    return out


def lr_at(step: int, total: int, base: float, lr_min: float, warmup: int) -> float:
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return lr_min + 0.5 * (base - lr_min) * (1.0 + math.cos(math.pi * min(t, 1.0)))


def build_optimizer(groups: list[dict], params) -> torch.optim.Optimizer:
    for g in groups:
        g["lr"] = params.lr * g.get("lr_factor", 1.0)
    if params.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=params.lr, momentum=0.9, nesterov=True, weight_decay=params.weight_decay)
    return torch.optim.AdamW(groups, lr=params.lr, weight_decay=params.weight_decay)


@dataclass
class TrainOutcome:
    steps_done: int
    total_steps: int
    history: list[tuple[int, float, float]] = field(default_factory=list)
    resumed_from: int = 0

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.total_steps


def train(method, net: torch.nn.Module, arch: dict, x_train: np.ndarray, y_train: np.ndarray, params,
          ctx: RunContext):
    """Generator: yields Progress (loss, lr) and a live loss curve; returns a :class:`TrainOutcome`."""
    dist_info = ctx.distributed()
    device = torch.device(ctx.device)
    net.to(device)
    x_all, y_all = torch.from_numpy(x_train).to(device), torch.from_numpy(y_train).to(device)
    n = len(x_all)
    local_n = len(range(dist_info.rank, n, dist_info.world))
    steps_per_epoch = max(1, math.ceil(local_n / params.batch_size))
    total = params.epochs * steps_per_epoch
    end = min(total, params.max_steps) if params.max_steps else total
    opt = build_optimizer(method.param_groups(net), params)
    outcome = TrainOutcome(steps_done=0, total_steps=total)
    signature = {"method": method.name, "arch": json.dumps(arch, sort_keys=True), "total_steps": total}
    if params.resume:
        state = ctx.resume(params.resume, net, opt, signature=signature)
        history = [tuple(row) for row in state.extra["history"].tolist()]
        outcome = TrainOutcome(steps_done=state.step, total_steps=total, resumed_from=state.step,
                               history=[(int(s), loss, lr) for s, loss, lr in history])
    model = dist_info.wrap(net, ctx.device)
    if dist_info.active:
        ctx.log(f"DistributedDataParallel: rank {dist_info.rank} of {dist_info.world}")
    every = params.checkpoint_every or steps_per_epoch
    report_every = max(1, total // 200)
    order, order_epoch = None, -1
    net.train()
    try:
        for step in range(outcome.steps_done, end):
            epoch, i = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                perm = torch.randperm(n, generator=torch.Generator().manual_seed(ctx.seed * 7919 + epoch))
                order, order_epoch = dist_info.share(perm).to(device), epoch
            idx = order[i * params.batch_size:(i + 1) * params.batch_size]
            gen = step_generator(ctx.seed, step)
            x, y = x_all[idx], y_all[idx]
            if params.augment:
                x = augment(x, gen)
            lr = lr_at(step, total, params.lr, params.lr_min, params.warmup_steps)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("lr_factor", 1.0)
            loss, logs = method.loss(model, net, x, y, gen, epoch, params.epochs)
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(f"loss became {value} at step {step}; lower lr (now {lr:.3g})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            outcome.steps_done = step + 1
            outcome.history.append((step + 1, value, lr))
            if outcome.steps_done % every == 0 or outcome.steps_done == end:
                ctx.save_checkpoint(outcome.steps_done, net, opt, signature=signature,
                                    extra={"history": torch.tensor(outcome.history, dtype=torch.float64)})
            ctx.check_cancelled()
            if outcome.steps_done % report_every == 0 or outcome.steps_done == end:
                extra = "".join(f", {k} {v:.3g}" for k, v in logs.items())
                yield Progress(0.85 * outcome.steps_done / total, f"epoch {epoch + 1}/{params.epochs} step "
                               f"{step + 1}/{total}: loss {value:.4f}, lr {lr:.3g}{extra}",
                               metrics={"loss": value, "lr": lr, **logs})
            if outcome.steps_done % steps_per_epoch == 0 or outcome.steps_done == end:
                hist = np.array(outcome.history, dtype=float).T
                yield Curves(name="training", title=f"{method.name} training", x_label="step",
                             series={"loss": hist[[0, 1]], "lr": hist[[0, 2]]})
    finally:
        dist_info.leave()
    net.eval()
    return outcome
