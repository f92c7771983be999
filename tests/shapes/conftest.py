"""What the shapes trainers' tests share: a tiny run of a training task, and the check that a run stopped half-way
and resumed ends with the same weights as one straight run."""

import pytest


@pytest.fixture
def resumes_exactly():
    """``resumes_exactly(task, params)`` trains ``task`` straight through and again stopped after step 2 then
    resumed, asserts both end at step 4 with equal weights and that the stopped run published nothing, and returns
    (the straight run's checkpoint, the resumed run folder)."""
    torch = pytest.importorskip("torch")
    from workbench.core.runner import Runner, RunRequest
    from workbench.core.runstore import RunState

    def train(task, params):
        job, record = Runner().run(RunRequest(task=task, params=params, backend="torch", device="cpu", seed=0,
                                              execution="inproc"))
        assert record.state == RunState.COMPLETED, record.error
        return job.run_dir

    def check(task: str, params: dict):
        straight = train(task, params)
        first = train(task, {**params, "stop_after": 2})
        assert not (first / "artifacts" / "model.safetensors").exists()
        resumed = train(task, {**params, "resume": str(first)})
        a, b = (torch.load(r / "artifacts" / "checkpoint.pt", weights_only=True) for r in (straight, resumed))
        assert a["step"] == b["step"] == 4
        for key, value in a["model"].items():
            assert torch.equal(value, b["model"][key]), key
        return a, resumed

    return check
