"""ONNX export: a dynamic batch axis, and a parity check that catches an export that disagrees with torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.api import ExportError, export_onnx, onnx_session


class BatchSpecialised(torch.nn.Module):
    """Python control flow on the batch size: a tracing exporter bakes in the branch it saw."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.shape[0] == 2 else x


def test_export_has_a_dynamic_batch_axis_and_matches_torch(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 3)).eval()
    report = export_onnx(model, (torch.rand(2, 1, 8, 8),), tmp_path / "m.onnx", check_batch_sizes=(1, 3, 7))
    assert report.worst <= report.tolerance["output"] and report.batch_sizes == (1, 3, 7)
    session = onnx_session(report.path)
    x = np.random.default_rng(0).random((11, 1, 8, 8), dtype=np.float32)
    out = session.run(None, {"input": x})[0]
    np.testing.assert_allclose(out, model(torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def test_parity_check_fails_an_export_that_disagrees(tmp_path):
    with pytest.raises(ExportError, match="parity check failed"):
        export_onnx(BatchSpecialised(), (torch.rand(2, 3),), tmp_path / "bad.onnx", check_batch_sizes=(1, 3),
                    exporter="torchscript")


def test_the_parity_tolerance_follows_the_float32_error_model(tmp_path):
    """The bound grows with the accumulation depth and the output's scale; it is checked at 1 and 2 threads."""
    from workbench.core.onnx_export import FLOAT32_EPS, SAFETY, accumulation_depth, parity_tolerance

    small = torch.nn.Linear(16, 2)
    deep = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2))
    assert accumulation_depth(small) == pytest.approx(4.0)
    assert accumulation_depth(deep) == pytest.approx(16 + 1 + 16)
    assert parity_tolerance(small, 0.1) == pytest.approx(SAFETY * FLOAT32_EPS * 4)
    assert parity_tolerance(small, 100.0) == pytest.approx(100 * parity_tolerance(small, 1.0))
    report = export_onnx(deep.eval(), (torch.rand(2, 256) * 50,), tmp_path / "d.onnx")
    assert report.threads == (1, 2) and set(report.tolerance) == {"output"}
    assert report.max_abs_diff["output"] <= report.tolerance["output"] < 1e-2
