"""Data-parallel training: two CPU processes (gloo, launched by torchrun) train the same weights as one process on
the same global batches; the run folders say which rank they are, and only rank 0 writes checkpoints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from workbench.api import load_clip
from workbench.core.distributed import Distributed
from workbench.core.training import CHECKPOINT

VBREG = ["registration.train-vbreg", "--set", "steps=3", "--set", "batch_size=4", "--set", "n_matches=48",
         "--set", "layers=2", "--set", "eval_pairs=0", "--set", "export_onnx=false", "--set", "checkpoint_every=3"]


def test_shares_cover_the_batch_once_and_the_loss_scale_restores_the_global_mean():
    items = list(range(7))
    ranks = [Distributed(rank=r, world=3, joined=True) for r in range(3)]
    shares = [d.share(items) for d in ranks]
    assert sorted(sum(shares, [])) == items
    per_item = torch.arange(7.0)
    scaled = [per_item[d.share(torch.arange(7))].mean() * d.loss_scale(len(s), 7) for d, s in zip(ranks, shares)]
    torch.testing.assert_close(sum(scaled) / 3, per_item.mean())
    plain = Distributed()
    assert plain.share(items) == items and plain.loss_scale(7, 7) == 1.0 and not plain.active


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], out: Path, launcher: list[str]) -> list[Path]:
    env = dict(os.environ, OMP_NUM_THREADS="1", WORKBENCH_HOME=str(out.parent / "home"))
    proc = subprocess.run([*launcher, "-m", "workbench", "run", *args, "--out", str(out), "--seed", "3"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sorted(out.iterdir())


def _single_and_ranks(args: list[str], tmp_path: Path) -> tuple[list[Path], list[Path]]:
    """The run folders of one plain process and of two gloo processes under torchrun (rank 0 first)."""
    single = _run(args, tmp_path / "single", [sys.executable])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                str(_free_port())]
    ranks = sorted(_run(args, tmp_path / "ddp", torchrun), key=lambda p: p.name.rsplit("-", 1)[1])
    assert [p.name.rsplit("-", 1)[1] for p in ranks] == ["rank0", "rank1"]
    assert (ranks[0] / "artifacts" / CHECKPOINT).is_file() and not (ranks[1] / "artifacts" / CHECKPOINT).exists()
    return single, ranks


def _checkpoint_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "artifacts" / CHECKPOINT, weights_only=False)["model"]


def _assert_same(one: dict, two: dict, atol: float) -> None:
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=atol, msg=key)


@pytest.mark.slow
def test_two_gloo_processes_train_vbreg_as_one_process_does(tmp_path):
    single, ranks = _single_and_ranks(VBREG, tmp_path)
    one = load_file(single[0] / "artifacts" / "model.safetensors")
    for folder in ranks:
        _assert_same(one, load_file(folder / "artifacts" / "model.safetensors"), 1e-5)


CLIP = ["clip.train", "--set", "steps=4", "--set", "stop_after=3", "--set", "batch_size=12", "--set", "warmup_steps=1",
        "--set", "checkpoint_every=3", "--set", "threads=1"]


@pytest.mark.slow
def test_two_gloo_processes_train_the_tiny_clip_as_one_process_does(tmp_path):
    """The contrastive loss runs on features gathered from both ranks (uneven shares: counterfactuals and foils
    fall where they fall), so the gradient is the one-process gradient."""
    single, ranks = _single_and_ranks(CLIP, tmp_path)
    _assert_same(_checkpoint_weights(single[0]), _checkpoint_weights(ranks[0]), 2e-5)


CLIM = ["clim.tune", "--set", "steps=3", "--set", "stop_after=2", "--set", "batch_size=10", "--set", "eval_scenes=4",
        "--set", "warmup_steps=0", "--set", "checkpoint_every=2"]


@pytest.mark.slow
def test_two_gloo_processes_tune_clim_as_one_process_does(tmp_path):
    """Each rank embeds its share of the mosaics and single images; the region-caption loss runs on both ranks'
    gathered features."""
    single, ranks = _single_and_ranks(CLIM, tmp_path)
    one = _checkpoint_weights(single[0])
    base = load_clip("tiny-clip").model.state_dict()
    assert any((one[k] - base[k]).abs().max() > 1e-4 for k in one if "resblocks.2" in k)
    _assert_same(one, _checkpoint_weights(ranks[0]), 2e-5)


UNET = ["diffusion.train-unet", "--set", "steps=3", "--set", "stop_after=2", "--set", "batch_size=6",
        "--set", "checkpoint_every=2", "--set", "warmup_steps=0", "--set", "threads=1"]
CONCEPT = ["diffusion.textual-inversion", "--set", "model=tiny-random", "--set", "images=shapes:green star",
           "--set", "n_images=4", "--set", "steps=3", "--set", "stop_after=2", "--set", "batch_size=4",
           "--set", "checkpoint_every=2", "--set", "sample_seeds=[]", "--set", "token=<gs>", "--set", "init_word=s"]


@pytest.mark.slow
@pytest.mark.parametrize("args", [UNET, CONCEPT], ids=["train-unet", "textual-inversion"])
def test_two_gloo_processes_train_the_diffusion_models_as_one_process_does(tmp_path, args):
    """The UNet trainer under DDP and textual inversion with averaged gradients, every random draw made for the
    whole batch and shared out."""
    single, ranks = _single_and_ranks(args, tmp_path)
    # Adam's first steps scale each update to about lr whatever the gradient's size, so a near-zero gradient summed
    # in another order can move a weight by up to ~lr (1e-4 for the UNet): the tolerance is that, not float noise.
    _assert_same(_checkpoint_weights(single[0]), _checkpoint_weights(ranks[0]), 3e-4 if args is UNET else 2e-5)
