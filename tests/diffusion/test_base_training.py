"""The base trainers run a few steps on shapes scenes, stop and resume through the run context, and leave a VAE
folder and a standard StableDiffusionPipeline folder that load back and sample."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from workbench.core.runner import RunRequest  # noqa: E402
from workbench.core.runstore import RunState, RunStore  # noqa: E402

FEW = {"batch_size": 4, "warmup_steps": 1, "checkpoint_every": 1, "threads": 1}


def _run(runner, task, params):
    job, record = runner.run(RunRequest(task=task, params={**FEW, **params}, backend="torch", device="cpu",
                                        execution="inproc", seed=0))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    return job


def test_vae_then_unet_train_resume_and_give_a_loadable_pipeline(runner):
    from wb_diffusion.pipelines import load_pipeline, load_vae

    vae_job = _run(runner, "diffusion.train-vae", {"steps": 2})
    vae_folder = vae_job.run_dir / "artifacts" / "vae"
    vae = load_vae(str(vae_folder))
    assert vae.config.scaling_factor != 0.18215  # set from the latents' spread, not the SD default
    first = _run(runner, "diffusion.train-unet", {"vae": str(vae_folder), "steps": 2, "stop_after": 1,
                                                  "channels": [32, 64], "preview_steps": 2})
    assert "continue with resume=" in (first.run_dir / "log.txt").read_text()
    job = _run(runner, "diffusion.train-unet", {"vae": str(vae_folder), "steps": 2, "resume": str(first.run_dir),
                                                "channels": [32, 64], "preview_steps": 2})
    results = {r.name: r for r in RunStore.results(job.run_dir)}
    assert results["loss"].series["epsilon mse"].shape == (2, 2)
    assert len(results["samples"].images) == 8
    folder = job.run_dir / "artifacts" / "pipeline"
    assert {"unet", "vae", "text_encoder", "tokenizer", "scheduler"} <= {p.name for p in folder.iterdir()}
    assert (folder / "tokenizer" / "merges.txt").is_file()
    pipe = load_pipeline(str(folder))
    assert type(pipe).__name__ == "StableDiffusionPipeline" and pipe.unet.config.cross_attention_dim == 64
    image = pipe("a small red circle", num_inference_steps=2, output_type="np").images[0]
    assert image.shape == (32, 32, 3)
