"""Datasets for training and scoring: the digits world, ImageFolder trees and CIFAR-10/100 (python format).

Everything becomes float32 ``(n, c, size, size)`` arrays in [0, 1]. OOD sets are named and grouped near/far; an
OOD set that shares images with the ID data is reported as leakage.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from wb_oodtrain.params import DataParams
from workbench.api import ImageReadError, UserError, load_sample, read_image_folder, read_image_tree

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# per-dataset RGB statistics as OpenOOD (and ASCOOD, built on it) normalise CIFAR: preprocessors/transform.py
RGB_STATS = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
             "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))}


class DataError(UserError):
    """A dataset that cannot be used as given; the message names the parameter and the file or folder."""


@dataclass
class OODData:
    """ID splits, named OOD sets with their group, optional outliers, the input normalisation and warnings."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    ood: dict[str, np.ndarray] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    warnings: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])


def _to_array(images: list[np.ndarray], size: int) -> np.ndarray:
    """uint8 HxW or HxWx3 pictures of any size -> float32 (n, c, size, size) in [0, 1]."""
    out = []
    for img in images:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        out.append(img[None] if img.ndim == 2 else img.transpose(2, 0, 1))
    return np.stack(out).astype(np.float32) / 255.0


def read_flat_folder(folder: str | Path, size: int, mode: str, on_bad_image: str, what: str) -> tuple[np.ndarray, int]:
    """Every image under ``folder`` (recursively) as one set; returns the array and how many files were skipped."""
    found = read_image_tree(folder, mode=mode, on_error=on_bad_image, what=what)
    return _to_array(found.images, size), len(found.skipped)


class _ArraysOnly(pickle.Unpickler):
    """CIFAR's python files are pickled dicts of numpy arrays, lists and bytes: allow exactly that, nothing else."""

    ALLOWED = {(core, name) for core in ("numpy.core.multiarray", "numpy._core.multiarray")
               for name in ("_reconstruct", "scalar")} | {("numpy", "ndarray"), ("numpy", "dtype"),
                                                          ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused {module}.{name}: a CIFAR batch holds only arrays and lists")
        return super().find_class(module, name)


def _read_cifar_file(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"cifar_dir: {path} is missing (expected the python version of CIFAR)")
    try:
        with open(path, "rb") as fh:
            doc = _ArraysOnly(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DataError(f"cifar_dir: {path} is not a CIFAR python batch ({exc})") from None
    if not isinstance(doc, dict):
        raise DataError(f"cifar_dir: {path} does not hold a dict")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in doc.items()}


def read_cifar(folder: str | Path, variant: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(x_train, y_train, x_test, y_test, class names)`` as uint8 NHWC from CIFAR-10 or CIFAR-100's python files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"cifar_dir: {folder} is not a folder")
    if variant == "cifar10":
        train_files, test_file, meta_file = [f"data_batch_{i}" for i in range(1, 6)], "test_batch", "batches.meta"
        label_key, names_key = "labels", "label_names"
    else:
        train_files, test_file, meta_file = ["train"], "test", "meta"
        label_key, names_key = "fine_labels", "fine_label_names"

    def split(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for name in files:
            doc = _read_cifar_file(folder / name)
            if "data" not in doc or label_key not in doc:
                raise DataError(f"cifar_dir: {folder / name} lacks 'data' or '{label_key}' ({variant})")
            data = np.asarray(doc["data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3072:
                raise DataError(f"cifar_dir: {folder / name}: data has shape {data.shape}, expected (n, 3072)")
            xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(doc[label_key], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = split(train_files)
    x_test, y_test = split([test_file])
    meta_path = folder / meta_file
    n = int(max(y_train.max(), y_test.max()) + 1)
    names = [str(i) for i in range(n)]
    if meta_path.is_file():
        raw = _read_cifar_file(meta_path).get(names_key, names)
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in raw]
    return x_train, y_train, x_test, y_test, names


def _digest(images: np.ndarray) -> list[str]:
    return [hashlib.sha1((np.clip(im, 0, 1) * 255).round().astype(np.uint8).tobytes()).hexdigest() for im in images]


def count_shared(images: np.ndarray, reference: np.ndarray) -> int:
    """How many of ``images`` also occur (pixel for pixel, at 8 bits) in ``reference``."""
    known = set(_digest(reference))
    return sum(h in known for h in _digest(images))


def leakage_warnings(data: OODData) -> list[str]:
    """Name each OOD set that shares images with the ID train or test split."""
    reference = np.concatenate([data.x_train, data.x_test])
    out = []
    for name, images in data.ood.items():
        shared = count_shared(images, reference)
        if shared:
            out.append(f"leakage: OOD set {name!r} shares {shared} of its {len(images)} images with the ID data; "
                       f"its metrics are not trustworthy")
    return out


def _mode(params: DataParams) -> str:
    if params.color == "auto":
        return "L" if params.dataset == "digits" else "RGB"
    return "L" if params.color == "gray" else "RGB"


def _folder_sets(params: DataParams, data: OODData, mode: str) -> None:
    for group, dirs in (("near", params.near_ood_dirs), ("far", params.far_ood_dirs)):
        for folder in dirs:
            name = Path(folder).name or str(folder)
            if name in data.ood:
                name = str(folder)
            images, skipped = read_flat_folder(folder, params.image_size, mode, params.on_bad_image,
                                               f"{group}_ood_dirs")
            data.ood[name], data.groups[name] = images, group
            if skipped:
                data.warnings.append(f"{folder}: skipped {skipped} unreadable file(s)")


def _imagefolder(params: DataParams, mode: str) -> OODData:
    if not params.id_train_dir or not params.id_test_dir:
        raise DataError("dataset=imagefolder needs id_train_dir and id_test_dir")
    train_root, test_root = Path(params.id_train_dir), Path(params.id_test_dir)
    for what, root in (("id_train_dir", train_root), ("id_test_dir", test_root)):
        if not root.is_dir():
            raise DataError(f"{what}: {root} is not a folder")
    train_classes = sorted(p.name for p in train_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    test_classes = sorted(p.name for p in test_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    only_train = sorted(set(train_classes) - set(test_classes))
    only_test = sorted(set(test_classes) - set(train_classes))
    if only_train:
        raise DataError(f"id_test_dir: class(es) {only_train} are in {train_root} but not in {test_root}")
    if only_test:
        raise DataError(f"id_test_dir: class(es) {only_test} are in {test_root} but not in the training set "
                        f"{train_root}")
    try:
        train = read_image_folder(train_root, mode=mode, on_error=params.on_bad_image)
        test = read_image_folder(test_root, mode=mode, on_error=params.on_bad_image, classes=train.classes)
    except ImageReadError as exc:
        raise DataError(f"imagefolder: {exc}") from None
    data = OODData(x_train=_to_array(train.images, params.image_size), y_train=np.array(train.labels, np.int64),
                   x_test=_to_array(test.images, params.image_size), y_test=np.array(test.labels, np.int64),
                   classes=list(train.classes))
    for split in (train, test):
        if split.skipped:
            data.warnings.append(f"{split.root}: skipped {len(split.skipped)} unreadable file(s)")
    return data


def _cifar(params: DataParams, mode: str) -> OODData:
    if not params.cifar_dir:
        raise DataError(f"dataset={params.dataset} needs cifar_dir")
    xtr, ytr, xte, yte, names = read_cifar(params.cifar_dir, params.dataset)

    def convert(x: np.ndarray) -> list[np.ndarray]:
        return [cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) if mode == "L" else im for im in x]

    return OODData(x_train=_to_array(convert(xtr), params.image_size), y_train=ytr,
                   x_test=_to_array(convert(xte), params.image_size), y_test=yte, classes=names)


def _channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Gray images repeated to RGB, or RGB images to gray (ITU-R 601 luma)."""
    if channels == 3:
        return np.repeat(images, 3, axis=1)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    return np.einsum("nchw,c->nhw", images, luma)[:, None].astype(np.float32)


def _sample_world(params: DataParams) -> OODData:
    """The digits world, or any labelled-images sample world (``dataset=sample``), kept in [0, 1] (mean 0, std 1)."""
    name, seed = ("digits", 0) if params.dataset == "digits" else (params.sample, params.sample_seed)
    world = load_sample(name, seed=seed, size=params.image_size)
    data = OODData(x_train=world.x_train, y_train=world.y_train, x_test=world.x_test, y_test=world.y_test,
                   classes=list(world.classes), ood=dict(world.ood), groups=dict(world.groups))
    wanted = {"rgb": 3, "gray": 1}.get(params.color, data.channels)
    if wanted != data.channels:
        data.x_train, data.x_test = _channels(data.x_train, wanted), _channels(data.x_test, wanted)
        data.ood = {k: _channels(v, wanted) for k, v in data.ood.items()}
    data.mean, data.std = (0.0,) * data.channels, (1.0,) * data.channels
    return data


def load_data(params: DataParams) -> OODData:
    """The dataset ``params`` names, with OOD sets, normalisation and leakage warnings."""
    mode = _mode(params)
    if params.dataset in ("digits", "sample"):
        data = _sample_world(params)
        if params.dataset == "sample" and params.color == "auto":
            mode = "L" if data.channels == 1 else "RGB"
    elif params.dataset == "imagefolder":
        data = _imagefolder(params, mode)
    else:
        data = _cifar(params, mode)
    if params.dataset not in ("digits", "sample"):
        rgb = RGB_STATS.get(params.dataset, (IMAGENET_MEAN, IMAGENET_STD))
        data.mean, data.std = rgb if mode == "RGB" else ((0.5,), (0.25,))
    _folder_sets(params, data, mode)
    if len(np.unique(data.y_train)) < 2:
        raise DataError(f"{params.dataset}: the training split has fewer than two classes")
    data.warnings.extend(leakage_warnings(data))
    return data


def synthetic_outliers(n: int, size: int, seed: int) -> np.ndarray:
    """Letters (cv2.putText) and random strokes, drawn big then passed through the digits world's 8x8 path.

    These are MixOE's auxiliary outliers on digits: none of them is a digit, a photo patch, noise or a texture,
    so the evaluation OOD sets stay unseen.
    """
    rng = np.random.default_rng(seed)
    letters = "ACEFHJKLMNPRTUVWXYacdefhkmnprtuvwxy"
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
    out = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        canvas = np.zeros((64, 64), np.uint8)
        if i % 2 == 0:
            text = letters[int(rng.integers(len(letters)))]
            scale = float(rng.uniform(1.4, 2.2))
            font = fonts[int(rng.integers(len(fonts)))]
            (tw, th), _ = cv2.getTextSize(text, font, scale, 4)
            org = (int((64 - tw) / 2 + rng.integers(-4, 5)), int((64 + th) / 2 + rng.integers(-4, 5)))
            cv2.putText(canvas, text, org, font, scale, 255, int(rng.integers(3, 7)), cv2.LINE_AA)
        else:
            for _ in range(int(rng.integers(1, 4))):
                pts = rng.integers(8, 56, size=(int(rng.integers(2, 5)), 2)).astype(np.int32)
                cv2.polylines(canvas, [pts], bool(rng.integers(2)), 255, int(rng.integers(3, 8)), cv2.LINE_AA)
        small = cv2.resize(canvas.astype(np.float32) / 255.0, (8, 8), interpolation=cv2.INTER_AREA)
        out[i, 0] = np.clip(cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR), 0, 1)
    return out


def load_outliers(params, data: OODData, seed: int) -> tuple[np.ndarray, str]:
    """MixOE's outlier set and a sentence saying where it came from (channels matched to the ID data)."""
    if params.outlier_dir:
        images, _ = read_flat_folder(params.outlier_dir, params.image_size, "L" if data.channels == 1 else "RGB",
                                     params.on_bad_image, "outlier_dir")
        source = f"images under {params.outlier_dir}"
    elif params.dataset in ("digits", "sample"):
        images = synthetic_outliers(params.n_outliers, params.image_size, seed)
        source = "synthetic letters and strokes (cv2.putText / polylines), disjoint from the evaluation OOD sets"
    else:
        raise DataError("outlier_dir: MixOE needs an outlier set for this dataset (a folder of images that are "
                        "not the evaluation OOD sets)")
    if images.shape[1] != data.channels:
        images = np.repeat(images, data.channels, axis=1)
    return images, source
