"""The dense encoder on ONNX Runtime: parity with torch (dense maps and top-1 labels) recorded by clim.region-score."""

from __future__ import annotations

import re

from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore


def _run(runner, backend):
    job, record = runner.run(RunRequest(task="clim.region-score", params={"n_scenes": 3, "max_views": 0},
                                        backend=backend, device="cpu", execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    return {r.name: r for r in RunStore.results(job.run_dir)}, (job.run_dir / "log.txt").read_text()


def test_region_scores_on_onnx_match_torch_and_the_parity_is_recorded(clim_runner):
    torch_results, _ = _run(clim_runner, "torch")
    onnx_results, log = _run(clim_runner, "onnx")
    assert "inference: ONNX Runtime CPUExecutionProvider, exported" in log
    notes = onnx_results["predictions"].notes
    assert "backend onnx-cpu" in notes and "backend torch-cpu" in torch_results["predictions"].notes
    found = re.search(r"max \|dense onnx - torch\| (\S+) on the first batch, top-1 labels identical for (\d+) of "
                      r"(\d+) boxes; export check (\S+)", notes)
    assert found, notes
    assert float(found[1]) < 1e-4 and float(found[4]) < 1e-4 and found[2] == found[3]
    ours = [(row[0], row[1], row[7]) for row in onnx_results["predictions"].rows]
    assert ours == [(row[0], row[1], row[7]) for row in torch_results["predictions"].rows]
    for a, b in zip(onnx_results["similarity"].rows, torch_results["similarity"].rows):
        assert max(abs(x - y) for x, y in zip(a[2:], b[2:])) < 1e-4


def test_the_zoo_cards_exporter_writes_the_dense_encoder_with_a_dynamic_batch(tmp_path):
    import numpy as np
    import torch

    from wb_clim.export import export_dense_encoder
    from workbench.api import load_clip, onnx_session, zoo_card

    card = zoo_card("clim-tiny-clip")
    report = export_dense_encoder(card.weights_path, tmp_path / "dense.onnx")
    assert report.worst < 1e-5 and set(report.batch_sizes) == {1, 2, 5}
    clip = load_clip("clim-tiny-clip")
    images = list(np.random.default_rng(0).integers(0, 256, (7, 64, 64, 3), dtype=np.uint8))
    got = onnx_session(tmp_path / "dense.onnx").run(["dense"], {"pixels": clip.dense_pixels(images).numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - clip.dense_features(images).numpy()).max() < 1e-5 and got.shape == (7, 64, 8, 8)
