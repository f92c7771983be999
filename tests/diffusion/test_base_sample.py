"""diffusion.sample: a grid, PNGs that carry their prompt and seed, samples.jsonl; the UNet on ONNX Runtime gives
the same images as torch within the export's parity; an empty prompt list is a clear error."""

import json

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("onnxruntime")

from workbench.core.runner import RunRequest  # noqa: E402
from workbench.core.runstore import RunState, RunStore  # noqa: E402

SMALL = {"model": "tiny-random", "prompts": ["a red circle", "a blue star"], "seeds": [0, 1], "steps": 2}


def _run(runner, params, backend="torch"):
    return runner.run(RunRequest(task="diffusion.sample", params={**SMALL, **params}, backend=backend, device="cpu",
                                 execution="inproc", seed=0))


def test_sample_writes_a_grid_and_pngs_with_prompt_and_seed(runner, tmp_path):
    from PIL import Image

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a green square\n\n", encoding="utf-8")
    job, record = _run(runner, {"prompts_file": str(prompts), "scheduler": "euler"})
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    (grid,) = [r for r in RunStore.results(job.run_dir) if r.name == "samples"]
    assert len(grid.images) == 6 and grid.images[0].shape == (32, 32, 3)
    assert grid.captions[-1] == "a green square (seed 1)"
    folder = job.run_dir / "artifacts" / "samples"
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["seed"]) for r in rows][:2] == [("a red circle", 0), ("a red circle", 1)]
    png = Image.open(folder / rows[3]["file"])
    assert png.text["prompt"] == "a blue star" and png.text["seed"] == "1" and png.text["scheduler"] == "euler"
    np.testing.assert_array_equal(np.asarray(png), grid.images[3])


@pytest.mark.slow
def test_the_unet_on_onnx_runtime_samples_the_torch_images(runner):
    params = {"prompts": ["a red circle"], "seeds": [3, 4], "steps": 3}
    torch_job, torch_record = _run(runner, params)
    onnx_job, onnx_record = _run(runner, params, backend="onnx")
    assert onnx_record.state == RunState.COMPLETED, onnx_record.error + onnx_record.traceback
    assert "ONNX Runtime" in (onnx_job.run_dir / "log.txt").read_text()
    a, b = (np.stack(next(iter(RunStore.results(j.run_dir))).images).astype(int) for j in (torch_job, onnx_job))
    assert a.shape[0] == 2 and np.abs(a - b).max() <= 2


def test_seeds_of_a_prompt_drawn_together_give_the_images_drawn_one_at_a_time(runner):
    from wb_diffusion.sampling import Sample, sample_batches

    samples = [Sample(p, s, 2, 5.0, "ddim") for p in ("a", "b") for s in range(5)]
    assert [[x.seed for x in b] for b in sample_batches(samples, 3)] == [[0, 1, 2], [3, 4], [0, 1, 2], [3, 4]]
    params = {"seeds": [0, 1, 2], "steps": 3}
    images = []
    for batch_size in (1, 3):
        job, record = _run(runner, {**params, "batch_size": batch_size})
        assert record.state == RunState.COMPLETED, record.error + record.traceback
        images.append(np.stack(next(iter(RunStore.results(job.run_dir))).images).astype(int))
    assert images[0].shape == (6, 32, 32, 3) and np.abs(images[0] - images[1]).max() <= 1
    assert np.abs(images[0][0] - images[0][1]).max() > 10


def test_an_empty_prompt_list_is_a_clear_error(runner):
    _, record = _run(runner, {"prompts": []})
    assert record.state == RunState.FAILED and "prompt list is empty" in record.error
