"""Readers for point clouds, ground-truth transforms and correspondence files; every error names the file."""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
from pathlib import Path

import numpy as np

from wb_registration.geometry import rigidity_error
from workbench.api import UserError

log = logging.getLogger(__name__)

CLOUD_SUFFIXES = (".ply", ".pcd", ".xyz", ".xyzn", ".xyzrgb", ".pts", ".npy", ".txt")
TEXT_COLUMNS = {".xyz": 3, ".xyzn": 6, ".xyzrgb": 6}


class RegistrationInputError(UserError):
    """Input that cannot be registered: the message names the file or parameter and the problem."""


def read_cloud(path: str | Path, *, drop_invalid: bool = True) -> np.ndarray:
    """Read an (n, 3) float64 cloud from .ply/.pcd/.xyz/.pts (Open3D) or .npy/.txt (numpy).

    Rows with NaN/inf are dropped with a warning (or refused when ``drop_invalid`` is False); an empty
    cloud or one with fewer than 3 valid points is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise RegistrationInputError(f"{path}: no such point-cloud file")
    suffix = path.suffix.lower()
    if suffix not in CLOUD_SUFFIXES:
        raise RegistrationInputError(f"{path}: unsupported point-cloud format {suffix!r}; "
                                     f"use one of {', '.join(CLOUD_SUFFIXES)}")
    try:
        if suffix == ".npy":
            points = np.load(path, allow_pickle=False)
        elif suffix == ".txt":
            points = np.loadtxt(path, ndmin=2)
        else:
            points = _open3d_points(path)
            _check_counts(path, suffix, len(points))
    except RegistrationInputError:
        raise
    except Exception as exc:
        raise RegistrationInputError(f"{path}: unreadable point cloud ({type(exc).__name__}: {exc})") from None
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 3:
        raise RegistrationInputError(f"{path}: expected an (n, 3) array of points, got shape {points.shape}")
    points = points[:, :3]
    return validate_cloud(points, str(path), drop_invalid=drop_invalid)


def _open3d_points(path: Path) -> np.ndarray:
    """Open3D's reader, whose failures are only printed ("Read PLY failed: ...") and return what was parsed:
    its output is captured at the file-descriptor level and a reported failure becomes an error naming the file."""
    import tempfile

    import open3d as o3d

    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = [os.dup(1), os.dup(2)]
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.dup2(capture.fileno(), 1)
            os.dup2(capture.fileno(), 2)
            cloud = o3d.io.read_point_cloud(str(path), remove_nan_points=False, remove_infinite_points=False)
            ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        capture.seek(0)
        said = capture.read().decode(errors="replace")
    failure = [line for line in said.splitlines() if "failed" in line.lower() or "error" in line.lower()]
    if failure:
        text = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(failure)).strip()
        raise RegistrationInputError(f"{path}: unreadable point cloud (Open3D: {text})")
    return np.asarray(cloud.points)


def _check_counts(path: Path, suffix: str, n_points: int) -> None:
    """Open3D skips text rows it cannot parse and pads a truncated ASCII PCD with zeros: rows with the wrong
    number of values, or another number of rows than a PCD header declares, are errors naming the file."""
    if suffix in TEXT_COLUMNS:
        columns = TEXT_COLUMNS[suffix]
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                values = line.split()
                if values and len(values) != columns:
                    raise RegistrationInputError(f"{path}:{number}: {len(values)} values where a {suffix} row has "
                                                 f"{columns}; a damaged or truncated file?")
    elif suffix == ".pts":
        rows = [line.split() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip()]
        widths = {len(row) for row in rows[1:]}
        if rows and rows[0][0].isdigit() and (int(rows[0][0]) != len(rows) - 1 or len(widths) > 1):
            raise RegistrationInputError(f"{path}: the first line declares {rows[0][0]} points but {len(rows) - 1} "
                                         f"rows follow, of {sorted(widths)} values; a damaged or truncated file?")
    elif suffix == ".pcd":
        with open(path, "rb") as fh:
            lines = fh.read().decode(errors="replace").splitlines()
        header = {line.split()[0]: line.split()[1:] for line in lines[:12] if line.split()}
        data_at = next((i for i, line in enumerate(lines) if line.startswith("DATA")), None)
        declared = header.get("POINTS", [""])[0]
        if data_at is None or not declared.isdigit() or header.get("DATA") != ["ascii"]:
            return
        rows = sum(1 for line in lines[data_at + 1:] if line.strip())
        if rows != int(declared) or n_points != int(declared):
            raise RegistrationInputError(f"{path}: the header declares {declared} points but the file holds "
                                         f"{rows} rows; a truncated file?")


def validate_cloud(points: np.ndarray, where: str, *, drop_invalid: bool = True) -> np.ndarray:
    """Check a cloud's shape and values; drop NaN/inf rows with a warning."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise RegistrationInputError(f"{where}: expected (n, 3) points, got shape {points.shape}")
    if len(points) == 0:
        raise RegistrationInputError(f"{where}: the point cloud is empty")
    finite = np.all(np.isfinite(points), axis=1)
    if not finite.all():
        if not drop_invalid:
            raise RegistrationInputError(f"{where}: {int((~finite).sum())} points contain NaN or inf")
        log.warning("%s: dropped %d points with NaN or inf", where, int((~finite).sum()))
        points = points[finite]
    if len(points) < 3:
        raise RegistrationInputError(f"{where}: only {len(points)} valid points; registration needs at least 3")
    return points


def read_transform(path: str | Path) -> np.ndarray:
    """Read a rigid 4x4 ground truth from .npy or text; a non-rigid matrix is refused with the reason."""
    path = Path(path)
    if not path.is_file():
        raise RegistrationInputError(f"{path}: no such transform file")
    try:
        matrix = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else np.loadtxt(path)
    except Exception as exc:
        raise RegistrationInputError(f"{path}: unreadable transform ({type(exc).__name__}: {exc})") from None
    problem = rigidity_error(np.asarray(matrix, float))
    if problem:
        raise RegistrationInputError(f"{path}: not a rigid ground-truth transform: {problem}")
    return np.asarray(matrix, float)


def read_correspondences(path: str | Path, n_source: int, n_target: int) -> np.ndarray:
    """Read external matches: (k, 2) integer indices into the two clouds, or (k, 6) coordinates.

    Returns (k, 2) indices when given indices, else the (k, 6) coordinates; indices out of range or
    an unexpected column count are errors naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise RegistrationInputError(f"{path}: no such correspondence file")
    try:
        data = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else np.loadtxt(path, ndmin=2)
    except Exception as exc:
        raise RegistrationInputError(f"{path}: unreadable correspondences ({type(exc).__name__}: {exc})") from None
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] not in (2, 6):
        raise RegistrationInputError(f"{path}: expected (k, 2) indices or (k, 6) coordinates, got shape {data.shape}")
    if not np.all(np.isfinite(data.astype(float))):
        raise RegistrationInputError(f"{path}: correspondences contain NaN or inf")
    if data.shape[1] == 6:
        return data.astype(np.float64)
    if not np.allclose(data, np.round(data)):
        raise RegistrationInputError(f"{path}: (k, 2) correspondences must be integer indices")
    idx = np.round(data).astype(np.int64)
    if len(idx) and (idx.min() < 0 or idx[:, 0].max() >= n_source or idx[:, 1].max() >= n_target):
        raise RegistrationInputError(
            f"{path}: correspondence indices out of range for clouds of {n_source} (source) and {n_target} "
            f"(target) points (max given: {int(idx[:, 0].max())}, {int(idx[:, 1].max())}); mismatched files?")
    return idx
