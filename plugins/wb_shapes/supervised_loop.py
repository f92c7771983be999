"""The training loop the shapes plugin's supervised models share (the checker, the reward model): one-cycle AdamW,
resumable checkpoints through the host's lifecycle, quick held-out checks drawn as curves, progress, ``stop_after``.

A task builds its model and gives the loss of step ``k`` (on :func:`augmented_batch`, drawn and augmented from
``k`` alone so a resumed run sees what an uninterrupted one would) and a quick check; what it does with the trained
model is its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import numpy as np
import torch

from wb_shapes.checker import NOVEL_TRAIN_START, SINGLE_TRAIN_START, as_batch, augment
from wb_shapes.world import Scene, generate_scenes
from workbench.api import Curves, Progress, RunContext


def augmented_batch(params, step: int, novel_fraction: float = 0.0) -> tuple[list[Scene], torch.Tensor, torch.Tensor]:
    """Step ``step``'s scenes and their augmented pictures (and the augmentation's affine ``theta``): train-split
    scenes of ``params.data_seed`` (1-4 objects from index 0, a share ``single_fraction`` of one-object scenes
    from :data:`SINGLE_TRAIN_START`) and a share ``novel_fraction`` of novel-split scenes (from
    :data:`NOVEL_TRAIN_START`), augmented at ``params.augment`` by a generator seeded by ``(data_seed, step)``."""
    n_novel = int(round(novel_fraction * params.batch_size))
    n_single = int(round(params.single_fraction * (params.batch_size - n_novel)))
    n_multi = params.batch_size - n_novel - n_single
    scenes = (generate_scenes(n_multi, "train", params.data_seed, params.image_size, start=step * n_multi)
              + generate_scenes(n_single, "train", params.data_seed, params.image_size, 1, 1,
                                start=SINGLE_TRAIN_START + step * n_single)
              + generate_scenes(n_novel, "novel", params.data_seed, params.image_size,
                                start=NOVEL_TRAIN_START + step * n_novel))
    gen = torch.Generator().manual_seed(params.data_seed * 1_000_003 + step)
    x, theta = augment(as_batch([s.image for s in scenes]), gen, params.augment)
    return scenes, x, theta


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
