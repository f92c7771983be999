"""The digits classifier training task (the zoo recipe runs it with ``save_to_zoo: true``)."""

from __future__ import annotations

import shutil

import numpy as np
import torch
from torch import nn

from wb_digits.model import DigitsCNN
from wb_digits.params import TrainClassifierParams
from wb_digits.world import load_digits_world
from wb_digits.zoo import ZOO_ID, save_model, write_card
from workbench.api import Curves, MetricsTable, Progress, RunContext, models_dir


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
    loss_curve, acc_curve = [], []
    for epoch in range(params.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen).to(device)
        total = 0.0
        for i in range(0, len(order), params.batch_size):
            idx = order[i:i + params.batch_size]
            xb = x_train[idx]
            shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
            xb = torch.roll(xb, shifts=shift, dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = evaluate_accuracy(model, x_test, y_test)
        loss_curve.append((epoch + 1, total / len(order)))
        acc_curve.append((epoch + 1, acc))
        yield Progress((epoch + 1) / params.epochs, f"epoch {epoch + 1}: loss {total / len(order):.4f}, "
                       f"test acc {acc:.4f}", metrics={"loss": total / len(order), "test_acc": acc})
        yield Curves(name="training", title="Digits CNN training", x_label="epoch",
                     series={"train loss": np.array(loss_curve).T, "ID test accuracy": np.array(acc_curve).T})
    final_acc = evaluate_accuracy(model, x_test, y_test)
    train_acc = evaluate_accuracy(model, x_train, y_train)
    model = model.cpu()
    out = ctx.artifacts / "model.safetensors"
    save_model(model, out)
    metrics = {"id_test_accuracy": round(final_acc, 4), "id_train_accuracy": round(train_acc, 4)}
    card = write_card(ctx.artifacts, metrics, params.model_dump())
    ctx.log(f"weights written to {out}")
    if params.save_to_zoo:
        zoo = models_dir() / ZOO_ID
        zoo.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, zoo / "model.safetensors")
        shutil.copyfile(card, zoo / "card.json")
        ctx.log(f"zoo model updated in {zoo}")
    yield MetricsTable(name="accuracy", title="Digits CNN accuracy", columns=["split", "accuracy"],
                       rows=[["ID train", train_acc], ["ID test", final_acc]],
                       notes=f"weights: {out}")
