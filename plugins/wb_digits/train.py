"""The digits classifier training task (the zoo recipe runs it with ``publish: true``).

Checkpoints go through the host's training lifecycle at the end of every epoch with the optimizer, the one-cycle
scheduler and the data generator's state, so a run killed at any point and resumed from its run folder ends with
the same weights as an uninterrupted one. Under torchrun each rank takes its share of every batch (BatchNorm
statistics are then per rank, as DDP without SyncBatchNorm computes them).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wb_digits.model import DigitsCNN
from wb_digits.params import TrainClassifierParams
from wb_digits.world import load_digits_world
from wb_digits.zoo import make_card, save_model
from workbench.api import Curves, MetricsTable, Progress, RunContext


def evaluate_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return float((pred == y).float().mean())


def run(params: TrainClassifierParams, ctx: RunContext):
    world = load_digits_world(seed=0)
    device = torch.device(ctx.device)
    x_train = torch.from_numpy(world.x_train).to(device)
    y_train = torch.from_numpy(world.y_train).to(device)
    x_test = torch.from_numpy(world.x_test).to(device)
    y_test = torch.from_numpy(world.y_test).to(device)
    model = DigitsCNN(num_classes=world.num_classes, width=params.width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    steps_per_epoch = int(np.ceil(len(x_train) / params.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=params.lr, total_steps=params.epochs * steps_per_epoch)
    gen = torch.Generator(device="cpu").manual_seed(ctx.seed)
    dist = ctx.distributed()
    net = dist.wrap(model, ctx.device)
    signature = {"width": params.width, "epochs": params.epochs, "batch_size": params.batch_size,
                 "lr": params.lr, "weight_decay": params.weight_decay, "seed": ctx.seed}
    loss_curve: list[tuple[int, float]] = []
    acc_curve: list[tuple[int, float]] = []
    start = 0
    if params.resume:
        state = ctx.resume(params.resume, model, opt, sched, signature=signature)
        start = state.step
        gen.set_state(state.extra["generator"])
        loss_curve = [tuple(v) for v in state.extra["loss"].tolist()]
        acc_curve = [tuple(v) for v in state.extra["accuracy"].tolist()]
    end = min(params.epochs, params.max_epochs) if params.max_epochs else params.epochs
    for epoch in range(start, end):
        model.train()
        order = torch.randperm(len(x_train), generator=gen).to(device)
        total = 0.0
        for i in range(0, len(order), params.batch_size):
            batch = order[i:i + params.batch_size]
            idx = dist.share(batch)
            xb = x_train[idx]
            shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
            xb = torch.roll(xb, shifts=shift, dims=(2, 3))
            loss = nn.functional.cross_entropy(net(xb), y_train[idx])
            opt.zero_grad()
            (loss * dist.loss_scale(len(idx), len(batch))).backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx) * dist.world
        acc = evaluate_accuracy(model, x_test, y_test)
        loss_curve.append((epoch + 1, total / len(order)))
        acc_curve.append((epoch + 1, acc))
        ctx.save_checkpoint(epoch + 1, model, opt, sched, signature=signature,
                            extra={"generator": gen.get_state(), "loss": torch.tensor(loss_curve),
                                   "accuracy": torch.tensor(acc_curve)})
        ctx.check_cancelled()
        yield Progress((epoch + 1) / params.epochs, f"epoch {epoch + 1}: loss {total / len(order):.4f}, "
                       f"test acc {acc:.4f}", metrics={"loss": total / len(order), "test_acc": acc})
        yield Curves(name="training", title="Digits CNN training", x_label="epoch",
                     series={"train loss": np.array(loss_curve).T, "ID test accuracy": np.array(acc_curve).T})
    dist.leave()
    final_acc = evaluate_accuracy(model, x_test, y_test)
    train_acc = evaluate_accuracy(model, x_train, y_train)
    model = model.cpu()
    out = ctx.artifacts / "model.safetensors"
    save_model(model, out)
    notes = f"weights: {out}"
    if end < params.epochs:
        notes += f"; stopped after epoch {end} of {params.epochs}: continue with resume={ctx.run_dir}"
    else:
        metrics = {"id_test_accuracy": round(final_acc, 4), "id_train_accuracy": round(train_acc, 4)}
        card = make_card(metrics, params.model_dump())
        (ctx.artifacts / "card.json").write_text(card.to_json())
        if params.publish:
            ctx.publish_model(card, {card.weights: out})
    ctx.log(f"weights written to {out}")
    yield MetricsTable(name="accuracy", title="Digits CNN accuracy", columns=["split", "accuracy"],
                       rows=[["ID train", train_acc], ["ID test", final_acc]], notes=notes)
