"""Known answers for the rigid-motion algebra and the metrics (method notes, section 6.1-6.3)."""

from __future__ import annotations

import numpy as np
import pytest

from wb_registration.consensus import length_consistency, soft_compatibility
from wb_registration.geometry import (
    apply_transform,
    invert_transform,
    make_transform,
    random_rotation,
    rigidity_error,
    rotation_about_axis,
    weighted_kabsch,
)
from wb_registration.metrics import inlier_scores, is_success, pose_metrics, rotation_error_deg


@pytest.fixture
def cloud():
    return np.random.default_rng(0).normal(size=(200, 3))


def test_noise_free_kabsch_is_exact_with_proper_rotation(cloud):
    rng = np.random.default_rng(1)
    truth = make_transform(random_rotation(rng), rng.normal(size=3))
    est = weighted_kabsch(cloud, apply_transform(cloud, truth))
    assert np.max(np.abs(est - truth)) < 1e-9
    assert np.linalg.det(est[:3, :3]) == pytest.approx(1.0, abs=1e-12)


def test_kabsch_never_returns_a_reflection_for_mirrored_data(cloud):
    mirrored = cloud * np.array([1.0, 1.0, -1.0])
    est = weighted_kabsch(cloud, mirrored)
    assert np.linalg.det(est[:3, :3]) == pytest.approx(1.0, abs=1e-9)


def test_zero_weights_on_outliers_give_exact_recovery_at_90_percent(cloud):
    rng = np.random.default_rng(2)
    truth = make_transform(random_rotation(rng), rng.normal(size=3))
    target = apply_transform(cloud, truth)
    target[20:] = rng.normal(size=(180, 3)) * 5
    weights = np.r_[np.ones(20), np.zeros(180)]
    assert np.max(np.abs(weighted_kabsch(cloud, target, weights) - truth)) < 1e-9
    assert np.max(np.abs(weighted_kabsch(cloud, target) - truth)) > 0.1


@pytest.mark.parametrize("theta", [0.5, 14.9, 15.1, 90.0, 179.0])
def test_rotation_error_of_a_theta_rotation_is_theta(theta):
    rot = rotation_about_axis([0.3, -1.0, 2.0], np.deg2rad(theta))
    assert rotation_error_deg(rot, np.eye(3)) == pytest.approx(theta, abs=1e-6)


def test_threshold_edges():
    for theta, passes in ((14.9, True), (15.1, False)):
        est = make_transform(rotation_about_axis([0, 0, 1], np.deg2rad(theta)), np.zeros(3))
        assert pose_metrics(est, np.eye(4))["success_3dmatch"] == float(passes)
    assert is_success(4.9, 0.59, "kitti") and not is_success(5.1, 0.1, "kitti")
    assert not is_success(1.0, 0.301, "3dmatch") and is_success(1.0, 0.299, "3dmatch")


def test_ground_truth_scores_perfectly():
    rng = np.random.default_rng(3)
    truth = make_transform(random_rotation(rng), rng.normal(size=3))
    m = pose_metrics(truth, truth)
    assert m["RE_deg"] == pytest.approx(0.0, abs=1e-5) and m["TE"] == 0.0
    mask = rng.random(50) < 0.3
    assert inlier_scores(mask, mask) == {"inlier_precision": 1.0, "inlier_recall": 1.0, "inlier_f1": 1.0}
    half = mask.copy()
    half[np.flatnonzero(mask)[: mask.sum() // 2]] = False
    assert inlier_scores(half, mask)["inlier_recall"] == pytest.approx(half.sum() / mask.sum())


def test_compatibility_is_invariant_to_rigid_motion(cloud):
    rng = np.random.default_rng(4)
    tgt = cloud + rng.normal(0, 0.02, cloud.shape)
    beta = soft_compatibility(length_consistency(cloud, tgt), 0.05)
    t1, t2 = (make_transform(random_rotation(rng), rng.normal(size=3)) for _ in range(2))
    moved = soft_compatibility(length_consistency(apply_transform(cloud, t1), apply_transform(tgt, t2)), 0.05)
    assert np.max(np.abs(beta - moved)) < 1e-4


def test_inverse_and_rigidity_checks():
    rng = np.random.default_rng(5)
    t = make_transform(random_rotation(rng), rng.normal(size=3))
    assert np.allclose(t @ invert_transform(t), np.eye(4))
    assert rigidity_error(t) == ""
    assert "orthonormal" in rigidity_error(np.diag([2.0, 2.0, 2.0, 1.0]))
    assert "reflection" in rigidity_error(np.diag([1.0, 1.0, -1.0, 1.0]))
    assert "NaN" in rigidity_error(np.full((4, 4), np.nan))
    assert "4x4" in rigidity_error(np.eye(3))
