"""int8 dynamic quantisation of an exported classifier: `workbench export-onnx --quantize int8` writes a graph
with integer matrix products whose predictions and OOD ranking stay within the stated tolerance of float32
(top-1 agreement >= 0.95, MSP AUROC change <= 0.02 on the digits zoo model)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from sklearn.metrics import roc_auc_score

from workbench.api import UserError, load_sample, onnx_session
from workbench.cli import main
from workbench.core.inference import inference_session


def _msp(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).max(axis=1)


def test_int8_digits_classifier_keeps_predictions_and_auroc(tmp_path, capsys):
    out = tmp_path / "digits.onnx"
    assert main(["export-onnx", "digits-cnn", "--out", str(out), "--quantize", "int8"]) == 0
    quantised = tmp_path / "digits.int8.onnx"
    assert str(quantised) in capsys.readouterr().out
    ops = {node.op_type for node in onnx.load(str(quantised)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} & ops, ops
    world = load_sample("digits", seed=0)
    logits = {}
    for name, path in (("fp32", out), ("int8", quantised)):
        session = onnx_session(path)
        logits[name] = {k: session.run(["logits"], {"images": x})[0] for k, x in
                        {"id": world.x_test, **world.ood}.items()}
    agreement = (logits["fp32"]["id"].argmax(1) == logits["int8"]["id"].argmax(1)).mean()
    assert agreement >= 0.95
    for ood in world.ood:
        auroc = {name: roc_auc_score(np.r_[np.ones(len(lo["id"])), np.zeros(len(lo[ood]))],
                                     np.r_[_msp(lo["id"]), _msp(lo[ood])]) for name, lo in logits.items()}
        assert abs(auroc["int8"] - auroc["fp32"]) <= 0.02, (ood, auroc)


def test_quantize_is_refused_on_the_torch_engine():
    import torch

    with pytest.raises(UserError, match="quantize"):
        inference_session(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), engine="torch", device="cpu", quantize="int8")
