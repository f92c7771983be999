"""The register and sweep tasks end to end through the runner: synthetic matches, FPFH with partial
overlap, files in every supported format, ill-posed input, bad input with clear messages."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import open3d as o3d
import pytest

from wb_registration.geometry import apply_transform, make_transform, random_rotation
from wb_registration.readers import read_cloud
from wb_registration.shapes import sample_shape
from workbench.core.params import ParamError
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore


def _run(runner, params, task="registration.register", backend="torch"):
    job, record = runner.run(RunRequest(task=task, params=params, backend=backend, device="cpu", seed=0,
                                        execution="inproc"))
    results = {r.name: r for r in RunStore.results(job.run_dir)} if record.state == RunState.COMPLETED else {}
    return record, results, job.run_dir


def _metrics(results):
    return dict(results["metrics"].rows)


def test_synthetic_matches_register_with_every_result_kind(runner):
    record, results, run_dir = _run(runner, {"method": "sc2pcr", "outlier_ratio": 0.95, "n_points": 5000})
    assert record.state == RunState.COMPLETED, record.error
    assert {r.kind for r in results.values()} == {"registration", "metrics", "curves"}
    m = _metrics(results)
    assert m["status"] == "ok" and m["success_3dmatch"] == 1.0 and m["RE_deg"] < 1.0
    assert m["inlier_precision"] >= 0.9 and m["inlier_recall"] >= 0.9
    reg = results["registration"]
    assert reg.truth.sum() == pytest.approx(50, abs=5) and reg.inliers.shape == reg.truth.shape
    assert np.load(run_dir / "artifacts" / "transform.npy").shape == (4, 4)
    assert reg.truth_transform.shape == (4, 4)
    from workbench.render.figures import build_figure

    after = build_figure(reg).axes[1]
    assert "source at the true pose" in [t.get_text() for t in after.get_legend().get_texts()]
    eps_line = [k for k in results["residuals"].series if k.startswith("eps")]
    assert eps_line and results["residuals"].series[eps_line[0]][0, 0] == pytest.approx(0.03)


def test_fpfh_pair_with_partial_overlap_and_icp(runner):
    record, results, _ = _run(runner, {"input": "synthetic-fpfh", "method": "sc2pcr", "overlap": 0.7,
                                       "n_points": 15000, "icp": "point-to-plane"})
    assert record.state == RunState.COMPLETED, record.error
    m = _metrics(results)
    assert m["status"] == "ok" and m["RE_deg"] < 1.0 and m["TE"] < 0.02
    assert 0.3 < m["fitness"] <= 1.0 and m["input_inlier_ratio"] < 0.5


def test_a_sphere_is_ill_posed_not_confident(runner):
    record, results, _ = _run(runner, {"input": "synthetic-fpfh", "method": "sc2pcr", "shape": "sphere",
                                       "mutual": False, "n_points": 4000,
                                       "max_matches": 1000})
    assert record.state == RunState.COMPLETED, record.error
    assert _metrics(results)["status"].startswith("ill-posed")
    assert not results["registration"].inliers.any()


def test_vbreg_onnx_backend_matches_torch(runner):
    params = {"method": "vbreg", "outlier_ratio": 0.9, "n_points": 3000, "n_matches": 300}
    rec_t, res_t, _ = _run(runner, params)
    rec_o, res_o, _ = _run(runner, params, backend="onnx")
    assert rec_t.state == rec_o.state == RunState.COMPLETED, (rec_t.error, rec_o.error)
    assert rec_o.resolved_backend == "onnx-cpu"
    assert np.max(np.abs(res_t["registration"].transform - res_o["registration"].transform)) < 1e-6
    assert _metrics(res_t)["success_3dmatch"] == 1.0


@pytest.mark.parametrize("suffix", [".ply", ".pcd", ".xyz", ".pts", ".npy"])
def test_readers_round_trip_every_format(tmp_path, suffix):
    pts = sample_shape("dem", 500, np.random.default_rng(1))
    path = tmp_path / f"cloud{suffix}"
    if suffix == ".npy":
        np.save(path, pts)
    else:
        assert o3d.io.write_point_cloud(str(path), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts)))
    assert np.allclose(read_cloud(path), pts, atol=1e-5)


def test_files_with_ground_truth_register(runner, tmp_path):
    rng = np.random.default_rng(1)
    src = sample_shape("dem", 8000, rng)
    truth = make_transform(random_rotation(rng, 60.0), rng.uniform(-0.3, 0.3, 3))
    tgt = apply_transform(sample_shape("dem", 8000, rng), truth)
    for name, pts in (("src.ply", src), ("tgt.ply", tgt)):
        assert o3d.io.write_point_cloud(str(tmp_path / name), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts)))
    np.savetxt(tmp_path / "gt.txt", truth)
    params = {"input": "files", "method": "sc2pcr", "source_path": str(tmp_path / "src.ply"),
              "target_path": str(tmp_path / "tgt.ply"), "truth_path": str(tmp_path / "gt.txt")}
    record, results, _ = _run(runner, params)
    assert record.state == RunState.COMPLETED, record.error
    m = _metrics(results)
    assert m["status"] == "ok" and m["RE_deg"] < 2.0, m


def test_external_coordinate_correspondences(runner, tmp_path):
    from wb_registration.synthetic import make_pair

    pair = make_pair(n_points=3000, n_matches=500, outlier_ratio=0.8, seed=2)
    x, y = pair.matches
    np.save(tmp_path / "a.npy", pair.source)
    np.save(tmp_path / "b.npy", pair.target)
    np.savetxt(tmp_path / "matches.txt", np.c_[x, y])
    np.savetxt(tmp_path / "gt.txt", pair.transform)
    record, results, _ = _run(runner, {"input": "files", "method": "ransac", "source_path": str(tmp_path / "a.npy"),
                                       "target_path": str(tmp_path / "b.npy"), "truth_path": str(tmp_path / "gt.txt"),
                                       "correspondences_path": str(tmp_path / "matches.txt")})
    assert record.state == RunState.COMPLETED, record.error
    assert _metrics(results)["success_kitti"] == 1.0


def _bad(runner, tmp_path, **params):
    base = {"input": "files", "method": "sc2pcr"}
    record, _, _ = _run(runner, {**base, **params})
    assert record.state == RunState.FAILED
    return record.error


def test_bad_inputs_give_messages_naming_the_file(runner, tmp_path):
    good = sample_shape("dem", 2000, np.random.default_rng(0))
    np.save(tmp_path / "good.npy", good)
    np.save(tmp_path / "empty.npy", np.zeros((0, 3)))
    np.save(tmp_path / "two.npy", good[:2])
    allnan = np.full((10, 3), np.nan)
    np.save(tmp_path / "nan.npy", allnan)
    np.savetxt(tmp_path / "scaled.txt", np.diag([2.0, 2.0, 2.0, 1.0]))
    np.savetxt(tmp_path / "wrong_matches.txt", np.array([[0, 5], [1, 99999], [2, 3]]))
    (tmp_path / "cloud.obj").write_text("v 0 0 0\n")
    g = str(tmp_path / "good.npy")
    assert "empty" in _bad(runner, tmp_path, source_path=str(tmp_path / "empty.npy"), target_path=g)
    assert "only 2 valid points" in _bad(runner, tmp_path, source_path=str(tmp_path / "two.npy"), target_path=g)
    assert "nan.npy" in _bad(runner, tmp_path, source_path=g, target_path=str(tmp_path / "nan.npy"))
    err = _bad(runner, tmp_path, source_path=g, target_path=g, truth_path=str(tmp_path / "scaled.txt"))
    assert "scaled.txt" in err and "not a rigid" in err
    err = _bad(runner, tmp_path, source_path=g, target_path=g,
               correspondences_path=str(tmp_path / "wrong_matches.txt"))
    assert "out of range" in err and "wrong_matches.txt" in err
    assert "unsupported" in _bad(runner, tmp_path, source_path=str(tmp_path / "cloud.obj"), target_path=g)
    assert "no such" in _bad(runner, tmp_path, source_path=str(tmp_path / "missing.ply"), target_path=g)
    assert "source_path" in _bad(runner, tmp_path)


def test_nan_points_are_dropped_with_a_warning_and_huge_clouds_are_capped(runner, tmp_path):
    rng = np.random.default_rng(3)
    src = sample_shape("dem", 6000, rng)
    noisy = src.copy()
    noisy[:50] = np.nan
    noisy[50:60] = np.inf
    np.save(tmp_path / "a.npy", noisy)
    np.save(tmp_path / "b.npy", src)
    record, results, run_dir = _run(runner, {"input": "files", "method": "sc2pcr", "max_points": 4000,
                                             "source_path": str(tmp_path / "a.npy"),
                                             "target_path": str(tmp_path / "b.npy")})
    assert record.state == RunState.COMPLETED, record.error
    assert "downsampled" in results["metrics"].notes
    log = (run_dir / "log.txt").read_text()
    assert "max_points=4000" in log
    assert np.max(np.abs(results["registration"].transform - np.eye(4))) < 0.02


def test_parameter_errors_name_the_key(runner):
    with pytest.raises(ParamError, match="outlier_ratio"):
        runner.prepare(RunRequest(task="registration.register", params={"outlier_ratio": 1.5}))
    with pytest.raises(ParamError, match="method"):
        runner.prepare(RunRequest(task="registration.register", params={"method": "teaser"}))


def test_sweep_writes_csv_curves_and_ladder(runner):
    record, results, run_dir = _run(runner, {"methods": ["kabsch", "sc2pcr"], "outlier_ratios": [0.0, 0.9],
                                             "seeds": 2, "n_points": 3000, "n_matches": 300},
                                    task="registration.sweep")
    assert record.state == RunState.COMPLETED, record.error
    with open(run_dir / "artifacts" / "sweep.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 2 * 2
    ladder = {row[0]: row[1:] for row in results["ladder"].rows}
    assert ladder["sc2pcr"] == [1.0, 1.0] and ladder["kabsch"][0] == 1.0 and ladder["kabsch"][1] < 1.0
    assert set(results["sweep_success"].series) == {"kabsch", "sc2pcr"}


def test_listing_plugins_imports_no_heavy_module():
    code = ("import sys; from workbench.core.plugins import get_host; host = get_host(); "
            "assert 'registration.register' in host.registry.tasks, 'task missing'; "
            "heavy = [m for m in ('torch', 'open3d') if m in sys.modules]; print(heavy); "
            "sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_self_symmetry_separates_a_sphere_from_real_terrain():
    from wb_registration.pipeline import self_symmetry

    rng = np.random.default_rng(0)
    assert self_symmetry(sample_shape("sphere", 4000, rng), 0.05) > 0.95
    assert self_symmetry(sample_shape("dem", 4000, rng), 0.05) < 0.6
