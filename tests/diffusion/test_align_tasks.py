"""The LongAlign encoding and AlignIT tasks run end to end on the tiny random pipeline through the runner."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import numpy as np  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from workbench.core.errors import ParamError  # noqa: E402
from workbench.core.runner import Runner, RunRequest  # noqa: E402
from workbench.core.runstore import RunState, RunStore  # noqa: E402

SAMPLING = {"model": "tiny-random", "seeds": [0, 1], "steps": 2}


def _run(task, **params):
    job, record = Runner().run(RunRequest(task=task, seed=0, execution="inproc", params={**SAMPLING, **params}))
    return {r.name: r for r in RunStore.results(job.run_dir)}, record


def test_longalign_encode_reports_segments_rows_and_both_encodings(workbench_home):
    prompt = "a red circle in the top left. a blue square. a green star. " + "a tiny dot. " * 12
    results, record = _run("diffusion.longalign-encode", prompt=prompt, token_length=300)
    assert record.state == RunState.COMPLETED, record.error
    segments = results["segments"]
    assert len(segments.rows) == 16 and "the plain encoding reads" in segments.notes
    assert segments.rows[-1][1] == " ."  # the reference rule keeps the trailing space as a segment of its own
    starts = [row for row in results["token-map"].rows if row[2] == "<|startoftext|>"]
    assert len(starts) == 16
    pairs = results["plain-vs-segments"]
    assert len(pairs.left) == len(pairs.right) == 2 and pairs.left[0].shape == (32, 32, 3)
    assert any(np.abs(a.astype(int) - b).max() > 0 for a, b in zip(pairs.left, pairs.right))


def test_longalign_encode_refuses_a_prompt_of_separators(workbench_home):
    _, record = _run("diffusion.longalign-encode", prompt=" . ; ")
    assert record.state == RunState.FAILED and "no words" in record.error


@pytest.fixture
def embedding(tmp_path):
    path = tmp_path / "concept.safetensors"
    save_file({"<concept>": torch.randn(32, generator=torch.Generator().manual_seed(4))}, str(path))
    return path


def test_alignit_task_compares_base_customised_and_alignit(workbench_home, embedding):
    results, record = _run("diffusion.alignit", custom=str(embedding), stand_in="x",
                           prompt="a <concept> next to a blue square", judge_as="red star")
    assert record.state == RunState.COMPLETED, record.error
    checker = results["checker"]
    assert [r[0] for r in checker.rows] == ["base", "textual-inversion", "AlignIT"]
    assert all(0 <= v <= 1 for r in checker.rows for v in r[1:]) and "red star" in checker.notes
    grid = results["comparison"]
    assert len(grid.images) == 6 and grid.captions[2] == "AlignIT, seed 0"
    assert np.abs(grid.images[1].astype(int) - grid.images[2]).max() > 0
    drift = results["kv-drift"]
    concept = drift.tokens.index("<concept>")
    assert drift.flags[concept] and np.all(drift.scores[:concept] == 0) and drift.scores[concept + 1:].min() > 0
    maps = results["attention-alignit"]
    assert len(maps.heats) == len(drift.tokens) and maps.heats[0].shape == (8, 8)  # the tiny UNet's 8x8 layers
    total = sum(maps.heats)  # softmax over all 77 rows: the prompt's rows take part of each pixel's attention
    assert np.all(total > 0) and np.all(total <= 1 + 1e-5)
    assert not np.allclose(maps.heats[concept], results["attention-customised"].heats[concept])


@pytest.mark.parametrize("params,message", [
    (dict(custom="missing.safetensors"), "no such file"),
    (dict(prompt="a blue square"), "does not occur in the prompt"),
    (dict(stand_in="xyz"), "stand_in"),
])
def test_alignit_task_names_bad_input(workbench_home, embedding, params, message):
    _, record = _run("diffusion.alignit", **{"custom": str(embedding), "stand_in": "x", **params})
    assert record.state == RunState.FAILED and message in record.error


def test_alignit_task_refuses_an_unknown_end_rows_mode(workbench_home, embedding):
    with pytest.raises(ParamError, match="end_rows: Input should be 'base', 'concept' or 'delta'"):
        _run("diffusion.alignit", custom=str(embedding), stand_in="x", end_rows="tail")


def test_longalign_evaluate_judges_late_objects_with_the_checker(workbench_home):
    results, record = _run("diffusion.longalign-evaluate", n_prompts=2, seeds=[0])
    assert record.state == RunState.COMPLETED, record.error
    table = results["late-objects"]
    assert [row[0] for row in table.rows] == ["plain", "segments"]
    assert all(row[2] > 0 for row in table.rows) and all(0 <= row[1] <= 1 for row in table.rows)
    assert len(results["plain-vs-segments"].left) == 2


def test_late_objects_are_those_mentioned_past_the_context():
    from wb_diffusion.task_longalign_eval import late_objects
    from wb_diffusion.tiny import char_tokenizer

    tok = char_tokenizer()
    caption = "a red circle. " + "x " * 80 + "a blue square."
    assert late_objects(tok, caption, [("red", "circle"), ("blue", "square")]).tolist() == [False, True]
