"""Textual inversion on the tiny random pipeline: only the new token's row learns, resume is exact, the saved
embedding loads with diffusers' loader and drives AlignIT."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from safetensors.torch import load_file  # noqa: E402

from wb_diffusion.pipelines import load_pipeline  # noqa: E402
from workbench.core.runner import Runner, RunRequest  # noqa: E402
from workbench.core.runstore import RunState, RunStore  # noqa: E402

BASE = {"model": "tiny-random", "images": "shapes:red star", "n_images": 4, "steps": 4, "batch_size": 2,
        "checkpoint_every": 2, "sample_seeds": [0], "sample_steps": 2, "token": "<rs>", "init_word": "s"}


def _run(**params):
    job, record = Runner().run(RunRequest(task="diffusion.textual-inversion", seed=1, execution="inproc",
                                          params={**BASE, **params}))
    return job.run_dir, record


def test_the_embedding_learns_resumes_exactly_and_loads_in_diffusers(workbench_home):
    straight, record = _run()
    assert record.state == RunState.COMPLETED, record.error
    half, record = _run(stop_after=2)
    resumed, record = _run(resume=str(half))
    assert record.state == RunState.COMPLETED, record.error
    a = load_file(str(straight / "artifacts" / "learned_embeds.safetensors"))
    b = load_file(str(resumed / "artifacts" / "learned_embeds.safetensors"))
    assert list(a) == ["<rs>"] and torch.equal(a["<rs>"], b["<rs>"])
    pipe = load_pipeline("tiny-random")
    init = pipe.text_encoder.get_input_embeddings().weight[pipe.tokenizer("s", add_special_tokens=False)
                                                            .input_ids].mean(0)
    assert (a["<rs>"] - init).abs().max() > 1e-4
    before = pipe.text_encoder.get_input_embeddings().weight.detach().clone()
    pipe.load_textual_inversion(str(straight / "artifacts" / "learned_embeds.safetensors"), token="<rs>")
    table = pipe.text_encoder.get_input_embeddings().weight
    assert torch.equal(table[: len(before)], before) and torch.equal(table[-1], a["<rs>"])
    grid = next(r for r in RunStore.results(straight) if r.name == "before-after")
    assert len(grid.images) == 2


def test_alignit_uses_a_learnt_embedding(workbench_home):
    trained, record = _run(steps=2, sample_seeds=[])
    assert record.state == RunState.COMPLETED, record.error
    job, record = Runner().run(RunRequest(task="diffusion.alignit", execution="inproc", params={
        "model": "tiny-random", "custom": str(trained / "artifacts" / "learned_embeds.safetensors"),
        "concept": "<rs>", "prompt": "a <rs> next to a blue square", "stand_in": "x", "seeds": [0], "steps": 2}))
    assert record.state == RunState.COMPLETED, record.error


@pytest.mark.parametrize("params,message", [
    (dict(token="a"), "already in the tokenizer"),
    (dict(images="shapes:plaid blob"), "no one-object shapes scene"),
])
def test_bad_concepts_are_named(workbench_home, params, message):
    _, record = _run(**params)
    assert record.state == RunState.FAILED and message in record.error


def test_dreambooth_lora_learns_only_the_lora_and_drives_alignit(workbench_home):
    job, record = Runner().run(RunRequest(task="diffusion.dreambooth-lora", seed=1, execution="inproc", params={
        "model": "tiny-random", "images": "shapes:red star", "n_images": 4, "steps": 2, "batch_size": 2,
        "sample_seeds": [0], "sample_steps": 2, "token": "q", "class_word": "star", "lr": 1e-2}))
    assert record.state == RunState.COMPLETED, record.error
    lora = job.run_dir / "artifacts" / "lora" / "pytorch_lora_weights.safetensors"
    weights = load_file(str(lora))
    assert weights and all("lora" in k for k in weights)
    job, record = Runner().run(RunRequest(task="diffusion.alignit", execution="inproc", params={
        "model": "tiny-random", "customisation": "lora", "custom": str(lora), "concept": "q",
        "prompt": "a q star next to a blue square", "seeds": [0], "steps": 2}))
    assert record.state == RunState.COMPLETED, record.error
    drift = next(r for r in RunStore.results(job.run_dir) if r.name == "kv-drift")
    assert drift.scores.min() > 0  # a UNet LoRA moves every token's keys and values, not only the concept's


def test_dreambooth_needs_a_one_token_word(workbench_home):
    job, record = Runner().run(RunRequest(task="diffusion.dreambooth-lora", execution="inproc", params={
        "model": "tiny-random", "n_images": 2, "steps": 1, "token": "sks"}))
    assert record.state == RunState.FAILED and "not one token" in record.error
