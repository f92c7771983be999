"""Estimator behaviour with known answers: identity, inverse consistency, scale, max consensus,
the robustness ladder in miniature, the local basin of ICP and explicit ill-posed results."""

from __future__ import annotations

import numpy as np
import pytest

from wb_registration.estimators import estimate
from wb_registration.geometry import apply_transform, make_transform, random_rotation, rotation_about_axis
from wb_registration.metrics import inlier_scores, pose_metrics
from wb_registration.open3d_methods import icp
from wb_registration.params import EstimatorFields
from wb_registration.shapes import sample_shape
from wb_registration.synthetic import make_pair, structured_decoy_pair

SETTINGS = EstimatorFields()
EPS = 0.03


def success(est, truth, re=5.0, te=0.05) -> bool:
    m = pose_metrics(est.transform, truth)
    return est.status == "ok" and m["RE_deg"] < re and m["TE"] < te


@pytest.mark.parametrize("method", ["kabsch", "sc2pcr", "ransac", "fgr"])
def test_identical_clouds_give_identity(method):
    pts = sample_shape("dem", 300, np.random.default_rng(0))
    est = estimate(method, pts, pts.copy(), EPS, SETTINGS)
    assert est.status == "ok"
    assert np.max(np.abs(est.transform - np.eye(4))) < 1e-6


@pytest.mark.parametrize("method", ["sc2pcr", "ransac"])
def test_forward_and_backward_estimates_compose_to_identity(method):
    pair = make_pair(n_points=3000, n_matches=500, outlier_ratio=0.7, seed=3)
    x, y = pair.matches
    ab = estimate(method, x, y, EPS, SETTINGS).transform
    ba = estimate(method, y, x, EPS, SETTINGS).transform
    assert np.max(np.abs(ab @ ba - np.eye(4))) < 0.02


@pytest.mark.parametrize("method", ["kabsch", "sc2pcr"])
def test_scaling_data_and_thresholds_keeps_rotation(method):
    pair = make_pair(n_points=3000, n_matches=400, outlier_ratio=0.5 if method == "sc2pcr" else 0.0, seed=4)
    x, y = pair.matches
    s = 7.5
    a = estimate(method, x, y, EPS, SETTINGS).transform
    b = estimate(method, s * x, s * y, s * EPS, SETTINGS).transform
    assert np.max(np.abs(a[:3, :3] - b[:3, :3])) < 1e-6
    assert np.max(np.abs(s * a[:3, 3] - b[:3, 3])) < 1e-5


@pytest.mark.parametrize("method", ["sc2pcr", "ransac"])
def test_structured_decoy_with_more_support_wins(method):
    pair, decoy = structured_decoy_pair(n_matches=600, inlier_fraction=0.15, decoy_fraction=0.3, seed=5)
    x, y = pair.matches
    est = estimate(method, x, y, EPS, SETTINGS)
    assert pose_metrics(est.transform, decoy)["RE_deg"] < 2.0
    assert pose_metrics(est.transform, pair.transform)["RE_deg"] > 20.0


def test_least_squares_breaks_with_box_outliers_and_robust_methods_do_not():
    wins = {m: 0 for m in ("kabsch", "fgr", "ransac", "sc2pcr")}
    for seed in range(3):
        pair = make_pair(n_points=3000, n_matches=1000, outlier_ratio=0.6, outlier_model="box", seed=seed)
        for method in wins:
            wins[method] += success(estimate(method, *pair.matches, EPS, SETTINGS, seed=seed), pair.transform)
    assert wins["kabsch"] == 0
    assert wins["fgr"] == wins["ransac"] == wins["sc2pcr"] == 3


def test_sc2pcr_survives_99_percent_surface_outliers_where_fgr_fails():
    sc2 = fgr = 0
    for seed in range(3):
        pair = make_pair(n_points=5000, n_matches=1000, outlier_ratio=0.99, seed=seed)
        est = estimate("sc2pcr", *pair.matches, EPS, SETTINGS)
        sc2 += success(est, pair.transform)
        assert inlier_scores(est.inliers, pair.truth)["inlier_recall"] >= 0.9
        fgr += success(estimate("fgr", *pair.matches, EPS, SETTINGS), pair.transform)
    assert sc2 == 3 and fgr == 0


def test_low_iteration_ransac_fails_at_99_percent():
    settings = EstimatorFields(ransac_iterations=1000)
    wins = sum(success(estimate("ransac", *make_pair(n_points=3000, outlier_ratio=0.99, seed=s).matches, EPS,
                                settings, seed=s), make_pair(n_points=3000, outlier_ratio=0.99, seed=s).transform)
               for s in range(3))
    assert wins == 0


@pytest.mark.parametrize("method", ["kabsch", "sc2pcr", "ransac", "fgr"])
def test_fewer_than_three_matches_is_ill_posed(method):
    x = np.array([[0.0, 0, 0], [1, 0, 0]])
    est = estimate(method, x, x + 1, EPS, SETTINGS)
    assert est.status.startswith("ill-posed")
    assert not est.inliers.any() and np.array_equal(est.transform, np.eye(4))


def test_collinear_matches_are_ill_posed():
    x = np.c_[np.linspace(0, 1, 20), np.zeros(20), np.zeros(20)]
    for method in ("kabsch", "sc2pcr"):
        assert estimate(method, x, x + 0.5, EPS, SETTINGS).status.startswith("ill-posed")


def test_icp_local_basin():
    pts = sample_shape("dem", 1500, np.random.default_rng(6))
    for angle, should_pass in ((10.0, True), (120.0, False)):
        truth = make_transform(rotation_about_axis([1, 2, 3], np.deg2rad(angle)), np.zeros(3))
        target = apply_transform(pts, truth)
        est, fitness, _ = icp(pts, target, np.eye(4), 0.5, "point-to-point", max_iterations=200)
        re = pose_metrics(est, truth)["RE_deg"]
        assert (re < 0.01) == should_pass, (angle, re, fitness)


def test_random_rotation_respects_its_range():
    rng = np.random.default_rng(7)
    angles = [pose_metrics(make_transform(random_rotation(rng, 30.0), np.zeros(3)), np.eye(4))["RE_deg"]
              for _ in range(50)]
    assert max(angles) <= 30.0 + 1e-9 and min(angles) >= 0.0
