"""The MaPO / Diffusion-DPO loop on the tiny random pipeline: resume determinism, DPO at init, NaN stop, exports."""

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from workbench.core.errors import ParamError  # noqa: E402
from workbench.core.runner import Runner, RunRequest  # noqa: E402
from workbench.core.runstore import RunState, RunStore  # noqa: E402

BASE = {"model": "tiny-random", "n_pairs": 6, "steps": 4, "batch_size": 2, "checkpoint_every": 2,
        "sample_every": 0, "sample_steps": 1, "sample_prompts": ["a small red circle"]}


def _run(task, **params):
    job, record = Runner().run(RunRequest(task=task, seed=3, execution="inproc", params={**BASE, **params}))
    return job.run_dir, record


def _curve(run_dir, name, series):
    result = next(r for r in RunStore.results(run_dir) if r.name == name)
    return result.series[series][1]


def test_stopping_and_resuming_gives_the_same_lora_as_a_straight_run(workbench_home):
    straight, record = _run("diffusion.mapo", grad_accum=2)
    assert record.state == RunState.COMPLETED, record.error
    half, record = _run("diffusion.mapo", grad_accum=2, stop_after=2)
    assert record.state == RunState.COMPLETED, record.error
    assert not (half / "artifacts" / "lora").exists()
    resumed, record = _run("diffusion.mapo", grad_accum=2, resume=str(half))
    assert record.state == RunState.COMPLETED, record.error
    assert "resumed from" in (resumed / "log.txt").read_text()
    a = load_file(str(straight / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    b = load_file(str(resumed / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _curve(straight, "loss", "sft").tolist() == _curve(resumed, "loss", "sft").tolist()
    assert len(_curve(resumed, "loss", "margin")) == 4
    other, _ = _run("diffusion.dpo", grad_accum=2, resume=str(half))
    assert "written with method='mapo', these parameters give method='dpo'" in _.error


@pytest.mark.parametrize("lora", [True, False])
def test_dpo_starts_at_log2_with_implicit_accuracy_one_half(workbench_home, lora):
    run_dir, record = _run("diffusion.dpo", steps=1, lora=lora)
    assert record.state == RunState.COMPLETED, record.error
    assert _curve(run_dir, "loss", "loss")[0] == pytest.approx(math.log(2), abs=1e-3)
    for half in ("w", "l"):
        assert _curve(run_dir, "scores", f"err_{half}")[0] == pytest.approx(
            _curve(run_dir, "scores", f"ref_err_{half}")[0], rel=1e-5)
    if lora:  # the same UNet with adapters off: bit-equal errors, every pair a tie
        assert _curve(run_dir, "implicit-accuracy", "implicit_acc")[0] == 0.5
    exported = "lora" if lora else "unet"
    assert (run_dir / "artifacts" / exported).is_dir()
    grid = next(r for r in RunStore.results(run_dir) if r.kind == "image-grid")
    assert len(grid.images) == 2 and grid.captions[0].startswith("base: a small red circle")


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(workbench_home):
    run_dir, record = _run("diffusion.mapo", steps=6, lr=1e30, checkpoint_every=1, max_grad_norm=0)
    assert record.state == RunState.FAILED
    assert "stopped, the last good checkpoint (step" in record.error and "Lower lr" in record.error
    ckpt = torch.load(run_dir / "artifacts" / "checkpoint.pt", weights_only=True)
    assert 1 <= ckpt["step"] < 6
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_bad_parameters_are_named(workbench_home, tmp_path):
    _, record = _run("diffusion.mapo", pairs=str(tmp_path / "missing.parquet"))
    assert record.state == RunState.FAILED and "missing.parquet: no such file" in record.error
    _, record = _run("diffusion.mapo", mixed_precision="bf16")
    assert record.state == RunState.FAILED and "mixed_precision=bf16: only on CUDA" in record.error
    _, record = _run("diffusion.mapo", resolution=36)
    assert record.state == RunState.FAILED and "resolution=36: must be a multiple of 8" in record.error
    _, record = _run("diffusion.mapo", init_lora=str(tmp_path / "round1"))
    assert record.state == RunState.FAILED and "round1: no such file or folder" in record.error
    with pytest.raises(ParamError, match="continues a LoRA, so it needs lora=true"):
        _run("diffusion.mapo", init_lora=str(tmp_path), lora=False)


def test_made_pairs_train_from_their_folder(workbench_home):
    job, record = Runner().run(RunRequest(task="diffusion.make-pairs", seed=0, execution="inproc",
                                          params={"n": 4, "data_seed": 2}))
    assert record.state == RunState.COMPLETED, record.error
    folder = job.run_dir / "artifacts" / "pairs"
    assert len((folder / "pairs.jsonl").read_text().splitlines()) == 4
    grid = next(r for r in RunStore.results(job.run_dir) if r.kind == "image-grid")
    assert len(grid.images) == 8 and grid.captions[0].startswith("chosen: a ")
    run_dir, record = _run("diffusion.mapo", pairs=str(folder), steps=1, lora_rank=2, lora_alpha=4)
    assert record.state == RunState.COMPLETED, record.error
    assert "4 pairs" in (run_dir / "log.txt").read_text()


def test_on_policy_pairs_are_written_for_training_and_an_unmet_margin_fails_naming_it(workbench_home):
    from wb_diffusion.preference import read_pairs
    from workbench.api import load_sample

    out = workbench_home / "pairs" / "on-policy"
    params = {"source": "samples", "model": "tiny-random", "n": 18, "k": 3, "steps": 1, "out": str(out)}
    _, record = Runner().run(RunRequest(task="diffusion.make-pairs", seed=0, execution="inproc", params=params))
    assert record.state == RunState.COMPLETED, record.error
    pairs = read_pairs(out)
    train = load_sample("shapes", split="train", n=18, seed=0, min_objects=1, max_objects=1)
    assert [p.caption for p in pairs] == [s.caption for s in train]
    _, record = Runner().run(RunRequest(task="diffusion.make-pairs", seed=0, execution="inproc",
                                        params={**params, "n": 2, "min_margin": 2.0}))
    assert record.state == RunState.FAILED and "min_margin=2.0: no caption's samples" in record.error
    (workbench_home / "a-file").write_text("")
    _, record = Runner().run(RunRequest(task="diffusion.make-pairs", seed=0, execution="inproc",
                                        params={**params, "out": str(workbench_home / "a-file")}))
    assert record.state == RunState.FAILED and "a-file: is a file" in record.error


def test_a_second_online_round_draws_pairs_from_the_tuned_model_and_continues_its_lora(workbench_home):
    """Round 2: make-pairs samples base + round 1's LoRA (other pictures than the base's), and MaPO / DPO continue
    that LoRA (DPO's first loss is then off log 2: the policy starts away from its reference, the base)."""
    from wb_diffusion.preference import read_pairs

    first, record = _run("diffusion.mapo", steps=2, lr=1e-2)
    assert record.state == RunState.COMPLETED, record.error
    lora = first / "artifacts" / "lora"
    drawn = {}
    for name, extra in (("base", {}), ("tuned", {"lora": str(lora)})):
        params = {"source": "samples", "model": "tiny-random", "n": 2, "k": 2, "steps": 1,
                  "out": str(workbench_home / name), **extra}
        _, record = Runner().run(RunRequest(task="diffusion.make-pairs", seed=0, execution="inproc", params=params))
        assert record.state == RunState.COMPLETED, record.error
        drawn[name] = read_pairs(workbench_home / name)
    assert [p.caption for p in drawn["base"]] == [p.caption for p in drawn["tuned"]]
    assert all(not (a.chosen == b.chosen).all() or not (a.rejected == b.rejected).all()
               for a, b in zip(drawn["base"], drawn["tuned"], strict=True))
    second, record = _run("diffusion.mapo", steps=1, init_lora=str(lora), pairs=str(workbench_home / "tuned"))
    assert record.state == RunState.COMPLETED, record.error
    a = load_file(str(lora / "pytorch_lora_weights.safetensors"))
    b = load_file(str(second / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert any(not torch.equal(a[k], b[k]) for k in a)
    dpo, record = _run("diffusion.dpo", steps=1, init_lora=str(lora))
    assert record.state == RunState.COMPLETED, record.error
    assert _curve(dpo, "loss", "loss")[0] != pytest.approx(math.log(2), abs=1e-6)


@pytest.mark.slow
def test_killing_mapo_mid_run_and_resuming_gives_the_same_lora(tmp_path, workbench_home):
    import os
    import signal
    import subprocess
    import sys
    import time

    params = {**{k: v for k, v in BASE.items() if k != "sample_prompts"}, "steps": 20, "checkpoint_every": 1}
    straight, record = _run("diffusion.mapo", **params)
    assert record.state == RunState.COMPLETED, record.error
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "workbench.cli", "run", "diffusion.mapo", "--seed", "3", "--out", str(store),
           *[arg for k, v in params.items() for arg in ("--set", f"{k}={v}")]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "WORKBENCH_HOME": str(workbench_home)})
    deadline, checkpoint = time.monotonic() + 300, None
    while time.monotonic() < deadline and checkpoint is None:
        found = list(store.glob("*/artifacts/checkpoint.pt"))
        if found and torch.load(found[0], weights_only=True)["step"] >= 2:
            checkpoint = found[0]
        time.sleep(0.05)
    assert checkpoint is not None, "no checkpoint in time"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = checkpoint.parents[1]
    assert not (killed / "artifacts" / "lora").exists()
    resumed, record = _run("diffusion.mapo", **params, resume=str(killed))
    assert record.state == RunState.COMPLETED, record.error
    a = load_file(str(straight / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    b = load_file(str(resumed / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_gloo_processes_tune_the_lora_a_single_process_tunes(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [arg for k, v in {**{k: v for k, v in BASE.items() if k != "sample_prompts"}, "steps": 2}.items()
            for arg in ("--set", f"{k}={v}")]
    env = dict(os.environ, OMP_NUM_THREADS="1", WORKBENCH_HOME=str(tmp_path / "home"))
    loras = []
    for name, launcher in [("one", [sys.executable]), ("two", [sys.executable, "-m", "torch.distributed.run",
                                                                "--nproc_per_node", "2", "--master_port", str(port)])]:
        out = tmp_path / name
        proc = subprocess.run([*launcher, "-m", "workbench", "run", "diffusion.mapo", *args, "--out", str(out),
                               "--seed", "3"], capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        found = sorted(out.glob("*/artifacts/lora/pytorch_lora_weights.safetensors"))
        assert len(found) == 1, found
        loras.append(load_file(str(found[0])))
    assert loras[0].keys() == loras[1].keys()
    for key in loras[0]:
        torch.testing.assert_close(loras[1][key], loras[0][key], rtol=1e-4, atol=1e-6, msg=key)


def test_chosen_and_rejected_share_noise_and_timestep_and_epochs_cover_every_pair():
    from wb_diffusion.params_pref import MapoParams
    from wb_diffusion.preference import PreferencePair
    from wb_diffusion.tiny import tiny_sd_pipeline
    from wb_diffusion.train_pref import PreferenceStep, batch_indices

    rng = torch.Generator().manual_seed(0)
    pairs = [PreferencePair(f"caption {i}", *(torch.randint(0, 255, (2, 32, 32, 3), generator=rng, dtype=torch.uint8)
                                              .numpy())) for i in range(3)]
    step = PreferenceStep(tiny_sd_pipeline(seed=0), "mapo", MapoParams(model="tiny-random"), 32)
    seen = {}
    add_noise = step.scheduler.add_noise

    def spy(latents, noise, timesteps):
        seen.update(latents=latents, noise=noise, timesteps=timesteps)
        return add_noise(latents, noise, timesteps)

    step.scheduler.add_noise = spy
    out = step(pairs, torch.Generator().manual_seed(1))
    assert torch.isfinite(out.loss) and set(out.terms) >= {"sft", "margin", "win_score", "lose_score"}
    noise_w, noise_l = seen["noise"].chunk(2)
    t_w, t_l = seen["timesteps"].chunk(2)
    assert torch.equal(noise_w, noise_l) and torch.equal(t_w, t_l) and not torch.equal(noise_w[0], noise_w[1])
    assert not torch.equal(*seen["latents"].chunk(2))
    order = [i for s in range(5) for i in batch_indices(10, 2, s, 0, 1, seed=4)]
    assert sorted(order) == list(range(10)) and order != list(range(10))


def test_sdxl_trains_through_the_same_loop_and_its_lora_loads_into_sdxl(workbench_home):
    from wb_diffusion.lora import load_lora
    from wb_diffusion.tiny import tiny_sdxl_pipeline

    run_dir, record = _run("diffusion.dpo", model="tiny-random-sdxl", steps=1, hflip=False)
    assert record.state == RunState.COMPLETED, record.error
    assert _curve(run_dir, "implicit-accuracy", "implicit_acc")[0] == 0.5
    pipe = tiny_sdxl_pipeline(seed=0)
    load_lora(pipe, run_dir / "artifacts" / "lora")
    assert any("lora" in name for name, _ in pipe.unet.named_parameters())
