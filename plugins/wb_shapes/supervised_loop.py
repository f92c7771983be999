"""The training loop the shapes plugin's supervised models share (the checker, the reward model): one-cycle AdamW,
resumable checkpoints through the host's lifecycle, quick held-out checks drawn as curves, progress, ``stop_after``.

A task builds its model and gives the loss of step ``k`` (its own data and augmentation, seeded by ``k`` so a
resumed run sees what an uninterrupted one would) and a quick check; what it does with the trained model is its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import numpy as np
import torch

from workbench.api import Curves, Progress, RunContext


def train_supervised(model: torch.nn.Module, params, ctx: RunContext, step_loss: Callable[[int], torch.Tensor],
                     check: Callable[[], dict[str, float]], curves_from_check: dict[str, str], title: str,
                     signature: dict, pct_start: float = 0.3) -> Generator[object, None, bool]:
    """Train ``model`` for ``params.steps`` (``lr``, ``weight_decay``, ``checkpoint_every``, ``eval_every``,
    ``stop_after``, ``resume``); ``curves_from_check`` maps a curve name to the key of ``check()`` it plots.
    Yields the run's results; returns whether training reached ``params.steps`` (False: stopped early)."""
    opt = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=params.lr, total_steps=params.steps, pct_start=pct_start)
    curves: dict[str, list[list[float]]] = {"loss": [], **{name: [] for name in curves_from_check}}
    start = 0
    if params.resume:
        state = ctx.resume(params.resume, model, opt, sched, signature=signature)
        start = state.step
        curves.update({k: v.tolist() for k, v in state.extra["curves"].items()})
    end = min(params.steps, params.stop_after or params.steps)
    running, t0 = None, time.monotonic()
    for step in range(start, end):
        model.train()
        loss = step_loss(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        done = step + 1
        curves["loss"].append([done, running])
        if done % params.eval_every == 0 or done == params.steps:
            model.eval()
            measured = check()
            for name, key in curves_from_check.items():
                curves[name].append([done, measured[key]])
            ctx.log(f"step {done}: loss {running:.4f}, " + ", ".join(f"{k} {v:.3f}" for k, v in measured.items()))
            yield Curves(name="training", title=title, x_label="step",
                         series={k: np.array(v).T for k, v in curves.items() if v})
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, model, opt, sched, signature=signature,
                                extra={"curves": {k: torch.tensor(v, dtype=torch.float64) for k, v in curves.items()}})
        ctx.check_cancelled()
        rate = (time.monotonic() - t0) / (done - start)
        yield Progress(done / params.steps, f"step {done}/{params.steps}: loss {running:.4f} ({rate:.3f} s/step)",
                       metrics={"loss": running})
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return False
    return True
