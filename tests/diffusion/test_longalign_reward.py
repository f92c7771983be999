"""LongAlign reward tuning on the tiny random pipeline with the zoo tiny CLIP: only the LoRA learns, the gradient
reaches it through the sampling chain, omega changes the objective, resume is exact."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from wb_diffusion.params_align import RewardTuneParams  # noqa: E402
from wb_diffusion.pipelines import load_pipeline  # noqa: E402
from wb_diffusion.reward_tune import sample_with_grad  # noqa: E402
from workbench.core.runner import Runner, RunRequest  # noqa: E402
from workbench.core.runstore import RunState, RunStore  # noqa: E402

BASE = {"model": "tiny-random", "steps": 2, "batch_size": 2, "sample_steps": 4, "grad_steps": 2,
        "checkpoint_every": 1, "eval_seeds": [0], "token_length": 120, "lr": 1e-3}


def _run(**params):
    job, record = Runner().run(RunRequest(task="diffusion.longalign-reward", seed=2, execution="inproc",
                                          params={**BASE, **params}))
    return job.run_dir, record


def test_the_gradient_reaches_the_unet_only_through_the_steps_that_carry_it():
    pipe = load_pipeline("tiny-random")
    pipe.vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    cond, uncond = pipe.encode_prompt(["a red circle"], "cpu", 1, True)
    params = RewardTuneParams(model="tiny-random", sample_steps=4, grad_steps=1)
    images = sample_with_grad(pipe, cond, uncond, params, torch.Generator().manual_seed(0))
    assert images.shape == (1, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    images.mean().backward()
    grads = [p.grad for p in pipe.unet.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_reward_tuning_logs_the_split_resumes_exactly_and_omega_matters(workbench_home):
    straight, record = _run()
    assert record.state == RunState.COMPLETED, record.error
    curves = next(r for r in RunStore.results(straight) if r.name == "reward")
    raw, relevant, irrelevant = (curves.series[k][1] for k in ("raw", "relevant", "irrelevant"))
    torch.testing.assert_close(torch.tensor(raw), torch.tensor(relevant + irrelevant), rtol=1e-5, atol=1e-6)
    reweighted = curves.series["reward"][1]
    torch.testing.assert_close(torch.tensor(reweighted), torch.tensor(relevant + 0.3 * irrelevant), rtol=1e-5,
                               atol=1e-6)
    half, _ = _run(stop_after=1)
    resumed, record = _run(resume=str(half))
    assert record.state == RunState.COMPLETED, record.error
    a = load_file(str(straight / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    b = load_file(str(resumed / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    plain, record = _run(omega=1.0)
    c = load_file(str(plain / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"))
    assert any(not torch.equal(a[k], c[k]) for k in a)
    grid = next(r for r in RunStore.results(straight) if r.name == "base-vs-tuned")
    assert len(grid.images) == 2


def test_a_missing_prompt_file_is_named(workbench_home, tmp_path):
    _, record = _run(prompts=str(tmp_path / "none.txt"))
    assert record.state == RunState.FAILED and "no such file" in record.error
