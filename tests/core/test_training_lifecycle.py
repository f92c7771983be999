"""The shared training lifecycle: atomic checkpoints with optimizer, scheduler and RNG state, resume from a run
folder (one parameter name, ``resume``), signature checks, and publishing into the user's zoo."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from workbench.core.errors import CheckpointError
from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunState, RunStore
from workbench.core.training import load_checkpoint, publish_model, save_checkpoint

PARAMS = {"epochs": 4, "width": 8, "batch_size": 64}


def test_checkpoint_round_trip_restores_model_optimizer_scheduler_and_rng(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    sched.step()
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    path = save_checkpoint(tmp_path / "c.pt", step=3, model=model, optimizer=opt, scheduler=sched,
                           signature={"method": "x"}, extra={"history": torch.arange(3.0)})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    other = torch.nn.Linear(3, 2)
    opt2 = torch.optim.AdamW(other.parameters(), lr=0.1)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, 2)
    state = load_checkpoint(path, model=other, optimizer=opt2, scheduler=sched2, signature={"method": "x"})
    assert state.step == 3 and state.path == path and state.extra["history"].tolist() == [0.0, 1.0, 2.0]
    assert torch.equal(other.weight, model.weight) and sched2.state_dict() == sched.state_dict()
    assert opt2.state_dict()["state"][0]["exp_avg"].equal(opt.state_dict()["state"][0]["exp_avg"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    with pytest.raises(CheckpointError, match="written with method='x', these parameters give method='y'"):
        load_checkpoint(path, model=other, signature={"method": "y"})
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no checkpoint.pt"):
        load_checkpoint(tmp_path / "empty", model=other)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt is not a readable training checkpoint"):
        load_checkpoint(tmp_path / "junk.pt", model=other)


def _weights(run_dir):
    return load_file(str(run_dir / "artifacts" / "model.safetensors"))


def test_killing_a_trainer_mid_run_and_resuming_gives_bit_identical_weights(tmp_path, workbench_home):
    """kill -9 of the whole CLI (worker included) during training, then ``resume=<run folder>``."""
    straight_job, straight = Runner().run(RunRequest(task="digits.train-classifier", params=PARAMS, seed=4,
                                                     execution="inproc"))
    assert straight.state == RunState.COMPLETED, straight.error
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "workbench.cli", "run", "digits.train-classifier", "--seed", "4", "--out",
           str(store), *[arg for k, v in PARAMS.items() for arg in ("--set", f"{k}={v}")]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "WORKBENCH_HOME": str(workbench_home)})
    deadline = time.monotonic() + 120
    checkpoint = None
    while time.monotonic() < deadline and checkpoint is None:
        found = list(store.glob("*/artifacts/checkpoint.pt"))
        if found and torch.load(found[0], weights_only=True)["step"] >= 1:
            checkpoint = found[0]
        time.sleep(0.05)
    assert checkpoint is not None, "the trainer wrote no checkpoint in time"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_dir = checkpoint.parents[1]
    from workbench.core.runstore import _alive

    worker = json.loads((killed_dir / "run.json").read_text())["pid"]
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (killed_dir / "artifacts" / "model.safetensors").exists()
    assert RunStore.load(killed_dir).state.value in ("interrupted", "failed")
    resumed_job, resumed = Runner().run(RunRequest(task="digits.train-classifier", seed=4, execution="inproc",
                                                   params={**PARAMS, "resume": str(killed_dir)}))
    assert resumed.state == RunState.COMPLETED, resumed.error
    assert "resumed from" in (resumed_job.run_dir / "log.txt").read_text()
    a, b = _weights(straight_job.run_dir), _weights(resumed_job.run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_other_parameters_is_refused(tmp_path):
    first, record = Runner().run(RunRequest(task="digits.train-classifier", execution="inproc",
                                            params={**PARAMS, "max_epochs": 1}))
    assert record.state == RunState.COMPLETED and "continue with resume=" in RunStore.results(first.run_dir)[-1].notes
    _, record = Runner().run(RunRequest(task="digits.train-classifier", execution="inproc",
                                        params={**PARAMS, "width": 16, "resume": str(first.run_dir)}))
    assert record.state == RunState.FAILED and "written with width=8, these parameters give width=16" in record.error


def test_publish_goes_to_the_users_zoo_keeps_the_previous_version_and_is_served_first(tmp_path, workbench_home):
    from workbench.api import zoo_card
    from workbench.core import plugins

    shipped = zoo_card("digits-cnn")
    job, record = Runner().run(RunRequest(task="digits.train-classifier", execution="inproc",
                                          params={"epochs": 1, "width": 4, "publish": True}))
    assert record.state == RunState.COMPLETED, record.error
    user = workbench_home / "models" / "digits-cnn"
    card = json.loads((user / "card.json").read_text())
    assert card["plugin"] == "digits" and card["weights"] == "model.safetensors" and (user / card["weights"]).is_file()
    assert shipped.weights_path.is_file() and not str(shipped.folder).startswith(str(workbench_home))
    plugins.reset_host()
    try:
        assert zoo_card("digits-cnn").folder == user
        first_weights = (user / "model.safetensors").read_bytes()
        publish_model(zoo_card("digits-cnn"), {"model.safetensors": job.run_dir / "artifacts" / "model.safetensors"})
        versions = list((workbench_home / "models" / ".versions").iterdir())
        assert len(versions) == 1 and (versions[0] / "model.safetensors").read_bytes() == first_weights
    finally:
        plugins.reset_host()
