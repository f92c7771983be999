"""VBReg: Wilson bound, determinism under a seed, robustness with the closed-form stages, ONNX parity,
and the trainer's checkpoints and resume (a few steps only)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from wb_registration.export import export_vbreg
from wb_registration.metrics import pose_metrics
from wb_registration.synthetic import make_pair
from wb_registration.vbreg import VBRegInference, vbreg, wilson_lower_bound
from wb_registration.vbreg_net import VBRegNet
from workbench.core.inference import inference_session

EPS = 0.03


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return VBRegNet(layers=2, dim=16, hidden=16, latent=8, label_dim=8).eval()

ONNX = partial(inference_session, engine="onnx", device="cpu")


def test_wilson_lower_bound_known_values():
    z2 = 1.96 ** 2
    assert wilson_lower_bound(np.array(1.0), 1) == pytest.approx(1 / (1 + z2))
    assert wilson_lower_bound(np.array(0.0), 10) == pytest.approx(0.0)
    low = wilson_lower_bound(np.array(0.5), 100)
    assert 0.40 < low < 0.41
    assert wilson_lower_bound(np.array(0.8), 24) > wilson_lower_bound(np.array(0.8), 4)


def test_vbreg_is_deterministic_under_a_seed_and_varies_without(net):
    pair = make_pair(n_points=3000, n_matches=300, outlier_ratio=0.8, seed=1)
    infer = VBRegInference(net)
    a = vbreg(*pair.matches, EPS, infer, seed=3)
    b = vbreg(*pair.matches, EPS, infer, seed=3)
    assert np.array_equal(a.transform, b.transform) and np.array_equal(a.confidence, b.confidence)
    c = infer(*pair.matches, seed=4)[0]
    assert not np.array_equal(c, infer(*pair.matches, seed=3)[0])


def test_vbreg_recovers_the_pose_at_99_percent_outliers(net):
    infer = VBRegInference(net)
    for seed in range(2):
        pair = make_pair(n_points=5000, n_matches=1000, outlier_ratio=0.99, seed=seed)
        est = vbreg(*pair.matches, EPS, infer, seed=seed)
        m = pose_metrics(est.transform, pair.transform)
        assert est.status == "ok" and m["RE_deg"] < 5 and m["TE"] < 0.05


def test_vbreg_too_few_matches_is_ill_posed(net):
    x = np.zeros((2, 3))
    assert vbreg(x, x, EPS, VBRegInference(net)).status.startswith("ill-posed")


@pytest.mark.slow
def test_onnx_export_parity_and_same_registration(net, tmp_path):
    report = export_vbreg(net, tmp_path / "vbreg.onnx")
    assert report.threads == (1, 2) and all(report.max_abs_diff[n] <= report.tolerance[n] for n in report.tolerance)
    pair = make_pair(n_points=3000, n_matches=400, outlier_ratio=0.9, seed=2)
    torch_est = vbreg(*pair.matches, EPS, VBRegInference(net), seed=0)
    onnx_est = vbreg(*pair.matches, EPS, VBRegInference(net, inference=ONNX, onnx_file=report.path), seed=0)
    assert np.max(np.abs(torch_est.transform - onnx_est.transform)) < 1e-6


def test_training_loss_has_gradients_for_prior_and_posterior(net):
    from wb_registration.params import TrainVBRegParams
    from wb_registration.train import training_batch, training_loss

    model = VBRegNet(layers=2, dim=16, hidden=16, latent=8, label_dim=8)
    corr, labels = training_batch(0, 0, TrainVBRegParams(batch_size=2, n_matches=64))
    loss = training_loss(model, corr, labels, torch.Generator().manual_seed(0))
    loss.backward()
    for name in ("layers.0.priors.0.weight", "layers.0.posteriors.0.weight", "classifier.0.weight", "log_sigma"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_vbreg_follows_a_structured_decoy_with_more_support(net):
    from wb_registration.synthetic import structured_decoy_pair

    pair, decoy = structured_decoy_pair(n_matches=600, inlier_fraction=0.15, decoy_fraction=0.3, seed=5)
    est = vbreg(*pair.matches, EPS, VBRegInference(net), seed=0)
    assert pose_metrics(est.transform, decoy)["RE_deg"] < 2.0


def test_zoo_model_on_the_inference_engines_onnx_path_matches_torch(tmp_path, monkeypatch):
    """The host exports the zoo network once (cached by weights) and the second session reuses the file."""

    from workbench.api import load_zoo_model

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    model = load_zoo_model("vbreg")
    pair = make_pair(n_points=3000, n_matches=200, outlier_ratio=0.9, seed=6)
    torch_out = VBRegInference(model)(*pair.matches, seed=1)
    first = VBRegInference(model, inference=ONNX)
    again = VBRegInference(model, inference=ONNX)
    assert not first.session.cached and again.session.cached
    assert again.session.export.path == first.session.export.path and first.session.export.path.is_file()
    tolerance = first.session.export.tolerance
    for name, a, b in zip(("logits", "attention", "compatibility"), torch_out, again(*pair.matches, seed=1)):
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= tolerance[name]
