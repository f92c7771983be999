"""The training and evaluation tasks end to end on tiny budgets: results, resume, DDP, ONNX parity, ResNets."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from wb_oodtrain.checkpoints import load_model
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunStore

TINY = {"width": 4, "epochs": 1, "batch_size": 32, "max_steps": 2}


def _run(runner, task: str, params: dict, backend: str = "torch"):
    job, record = runner.run(RunRequest(task=task, params=params, backend=backend, device="cpu", seed=0,
                                        execution="inproc"))
    assert record.state.value == "completed", record.traceback or record.error
    return job.run_dir, {r.name: r for r in RunStore.results(job.run_dir)}


@pytest.mark.parametrize("task,views", [
    ("ood.train-ce", set()),
    ("ood.train-mixoe", {"mixoe-samples", "msp-vs-lambda"}),
    ("ood.train-palm", {"palm-embeddings", "prototype-usage"}),
    ("ood.train-ascood", {"ascood-outliers"}),
])
def test_each_method_trains_and_reports_its_views(runner, task, views):
    extra = {"n_outliers": 64} if task == "ood.train-mixoe" else {}
    run_dir, results = _run(runner, task, {**TINY, **extra})
    assert {"summary", "ood-metrics", "scores", "training"} | views <= set(results)
    summary = dict(results["summary"].rows)
    assert summary["steps"] == "2/24" and "stopped at step 2 of 24" in results["summary"].notes
    assert set(results["scores"].groups.values()) == {"near", "far"}
    loaded = load_model(str(run_dir / "artifacts" / "model.safetensors"), num_classes=6)
    assert loaded.method == task.split("-")[1] and (run_dir / "artifacts" / "checkpoint.pt").is_file()
    training = results["training"].series
    assert training["loss"].shape == (2, 2) and np.all(training["lr"][1] > 0)
    if task == "ood.train-mixoe":
        lam = results["msp-vs-lambda"].series["soft target (linear)"]
        assert lam[1][0] == pytest.approx(1 / 6) and lam[1][-1] == pytest.approx(1.0)
    if task == "ood.train-ascood":
        assert len(results["ascood-outliers"].images) == 18


def test_a_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(runner):
    params = {**TINY, "max_steps": 4, "checkpoint_every": 2, "n_outliers": 64}
    straight, _ = _run(runner, "ood.train-mixoe", params)
    first, _ = _run(runner, "ood.train-mixoe", {**params, "max_steps": 2})
    resumed, results = _run(runner, "ood.train-mixoe", {**params, "resume": str(first)})
    assert "resumed from step 2" in results["summary"].notes
    a = load_model(str(straight / "artifacts" / "model.safetensors")).net.state_dict()
    b = load_model(str(resumed / "artifacts" / "model.safetensors")).net.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_resuming_another_methods_checkpoint_is_refused(runner):
    first, _ = _run(runner, "ood.train-ce", TINY)
    job, record = runner.run(RunRequest(task="ood.train-ascood", params={**TINY, "resume": str(first)},
                                        backend="torch", device="cpu", execution="inproc"))
    assert record.state.value == "failed"
    assert "written with method='ce', these parameters give method='ascood'" in record.error


def test_ddp_runs_as_one_process_on_cpu_under_torchrun_variables(runner, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(key, value)
    run_dir, results = _run(runner, "ood.train-palm", TINY)
    assert "DistributedDataParallel: rank 0 of 1" in (run_dir / "log.txt").read_text()
    assert not torch.distributed.is_initialized()
    protos = load_model(str(run_dir / "artifacts" / "model.safetensors")).net.fc.prototypes
    torch.testing.assert_close(protos.norm(dim=1), torch.ones(len(protos)))


def test_evaluate_compares_checkpoints_and_onnx_scores_match_torch(runner):
    ce_dir, _ = _run(runner, "ood.train-ce", TINY)
    palm_dir, _ = _run(runner, "ood.train-palm", TINY)
    ckpts = [str(ce_dir / "artifacts" / "model.safetensors"), str(palm_dir / "artifacts" / "model.safetensors")]
    _, torch_res = _run(runner, "ood.evaluate", {"checkpoints": ckpts, "detectors": ["auto", "energy"]})
    _, onnx_res = _run(runner, "ood.evaluate", {"checkpoints": ckpts[1:], "detectors": ["auto", "energy", "odin"]},
                       backend="onnx")
    rows = torch_res["comparison"].as_dicts()
    assert [(r["method"], r["detector"]) for r in rows] == [("ce", "msp"), ("ce", "energy"),
                                                            ("palm", "mahalanobis-norm"), ("palm", "energy")]
    assert "odin skipped" in onnx_res["comparison"].notes and "ONNX max |onnx - torch|" in onnx_res["comparison"].notes
    torch_scores, onnx_scores = torch_res["scores"].scores, onnx_res["scores"].scores
    energy = f"{palm_dir.name}:energy"
    assert set(onnx_scores) == {f"{palm_dir.name}:mahalanobis-norm", energy}
    for name, values in onnx_scores[energy].items():
        np.testing.assert_allclose(values, torch_scores[energy][name], rtol=1e-4, atol=1e-4)
    torch_rows = {r["detector"]: r for r in rows if r["method"] == "palm"}
    for row in onnx_res["comparison"].as_dicts():
        for key in ("ID accuracy", "near AUROC", "far AUROC"):
            assert abs(row[key] - torch_rows[row["detector"]][key]) < 5e-3, (row, key)


def test_resnet18_cifar_stem_loads_a_local_torchvision_state_dict(runner, tmp_path):
    import torchvision
    from PIL import Image

    from workbench.api import save_safetensors

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in ("cat", "dog"):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / split / c /
                                                                                         f"{i}.png")
    weights = tmp_path / "r18.safetensors"
    save_safetensors(torchvision.models.resnet18(weights=None).state_dict(), weights)
    run_dir, results = _run(runner, "ood.train-ce", {
        "dataset": "imagefolder", "id_train_dir": str(tmp_path / "train"), "id_test_dir": str(tmp_path / "test"),
        "image_size": 16, "backbone": "resnet18", "stem": "cifar", "backbone_weights": str(weights),
        "epochs": 1, "batch_size": 4, "max_steps": 1})
    log = (run_dir / "log.txt").read_text()
    assert all(k in log.split("not used:")[1] for k in ("conv1.weight", "fc.weight", "fc.bias"))
    loaded = load_model(str(run_dir / "artifacts" / "model.safetensors"), num_classes=2)
    assert loaded.net.encoder.conv1.kernel_size == (3, 3) and loaded.arch["backbone"] == "resnet18"


@pytest.mark.parametrize("name,dim", [("resnet34", 512), ("resnet50", 2048)])
def test_resnet_imagenet_stem_gives_pooled_features(name, dim):
    from wb_oodtrain.network import build_network

    net = build_network({"backbone": name, "stem": "imagenet", "in_channels": 3, "num_classes": 7, "width": 0,
                         "mean": [0.5] * 3, "std": [0.25] * 3, "head": "standardised", "sigma": 0.5}).eval()
    with torch.no_grad():
        feats = net.forward_features(torch.rand(2, 3, 64, 64))
    assert feats.shape == (2, dim) and net(torch.rand(1, 3, 64, 64)).shape == (1, 7)


def test_listing_the_plugin_does_not_import_torch():
    code = "import sys, wb_oodtrain.plugin, wb_oodtrain.params; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
