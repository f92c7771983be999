"""diffusion.evaluate: held-out shapes prompts scored by the tiny CLIP reward for one model, and base vs tuned (the
same model with a LoRA) on the same seeds as a table and base | tuned pairs."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from workbench.core.runner import RunRequest  # noqa: E402
from workbench.core.runstore import RunState, RunStore  # noqa: E402


def test_evaluate_compares_base_and_base_plus_lora_on_the_same_seeds(runner, tmp_path):
    from test_base_pipelines import _lora_file

    from wb_diffusion.params_base import EvaluateParams
    from wb_diffusion.pipelines import load_pipeline
    from wb_diffusion.task_evaluate import held_out_prompts

    lora = _lora_file(load_pipeline("tiny-random"), tmp_path)
    params = {"model": "tiny-random", "tuned_lora": str(lora), "n_prompts": 3, "seeds": [0], "steps": 2}
    job, record = runner.run(RunRequest(task="diffusion.evaluate", params=params, backend="torch", device="cpu",
                                        execution="inproc", seed=0))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    results = {r.name: r for r in RunStore.results(job.run_dir)}
    table = results["prompt-following"]
    assert [row[0] for row in table.rows] == ["tiny-random", f"tiny-random + {lora}"]
    assert all(-1 <= row[1] <= 1 for row in table.rows) and table.rows[0][1] != table.rows[1][1]
    pairs = results["base-vs-tuned"]
    prompts = held_out_prompts(EvaluateParams(n_prompts=3))
    assert len(set(prompts)) == 3 and pairs.captions == [f"{p} (seed 0)" for p in prompts]
    assert len(pairs.left) == len(pairs.right) == 3
    gaps = {row[0]: row[1:] for row in results["tuned-minus-base"].rows}
    gap, low, high = gaps["clip_reward"]
    assert gap == pytest.approx(table.rows[1][1] - table.rows[0][1], abs=2e-4) and low <= gap <= high


def test_paired_gap_resamples_whole_prompts():
    import numpy as np

    from wb_diffusion.task_evaluate import paired_gap

    assert paired_gap(np.ones(6), ["a", "a", "b", "b", "c", "c"]) == (1.0, 1.0, 1.0)
    # two prompts, two seeds each: a prompt's seeds move together, so the bootstrap means are -1, 0 or +1
    assert paired_gap(np.array([1.0, 1.0, -1.0, -1.0]), ["a", "a", "b", "b"]) == (0.0, -1.0, 1.0)


def test_held_out_prompts_are_distinct_and_too_many_are_refused():
    from wb_diffusion.params_base import EvaluateParams
    from wb_diffusion.task_evaluate import held_out_prompts
    from workbench.api import UserError

    prompts = held_out_prompts(EvaluateParams(n_prompts=32))
    assert len(prompts) == len(set(prompts)) == 32
    with pytest.raises(UserError, match="n_prompts=1000: .* distinct captions"):
        held_out_prompts(EvaluateParams(n_prompts=1000))
