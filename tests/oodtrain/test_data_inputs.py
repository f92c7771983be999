"""Datasets and bad input: CIFAR python files, ImageFolder trees, leakage, checkpoints that do not fit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from wb_oodtrain.checkpoints import load_model, save_model
from wb_oodtrain.data import DataError, count_shared, load_data, read_cifar, synthetic_outliers
from wb_oodtrain.network import build_network
from wb_oodtrain.params import DataParams
from workbench.api import CheckpointError


def _write_cifar10(folder, n_per_batch: int = 4) -> np.ndarray:
    """Fake CIFAR-10 python files: dicts with bytes keys as the originals have."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    first = None
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        first = data if first is None else first
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        doc = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
               b"filenames": [f"{i}.png".encode() for i in range(n_per_batch)]}
        (folder / name).write_bytes(pickle.dumps(doc, protocol=2))
    names = [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                  "truck")]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}))
    return first


def test_cifar10_python_files_read_with_layout_labels_and_names(tmp_path):
    first = _write_cifar10(tmp_path / "cifar-10-batches-py")
    x_train, y_train, x_test, y_test, names = read_cifar(tmp_path / "cifar-10-batches-py", "cifar10")
    assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert names[0] == "airplane" and names[9] == "truck" and y_train.dtype == np.int64
    np.testing.assert_array_equal(x_train[0, :, :, 0], first[0, :1024].reshape(32, 32))
    np.testing.assert_array_equal(x_train[0, :, :, 2], first[0, 2048:].reshape(32, 32))


def test_cifar100_uses_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 6), ("test", 3)):
        doc = {b"fine_labels": [99, 0, 5, 7, 1, 2][:n], b"coarse_labels": [0] * n,
               b"data": np.zeros((n, 3072), np.uint8)}
        (folder / name).write_bytes(pickle.dumps(doc))
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": [f"c{i}".encode() for i in range(100)]}))
    data = load_data(DataParams(dataset="cifar100", cifar_dir=str(folder), image_size=16))
    assert data.x_train.shape == (6, 3, 16, 16) and data.num_classes == 100 and data.classes[99] == "c99"


def test_a_cifar_file_that_would_run_code_is_refused(tmp_path):
    folder = tmp_path / "evil"
    _write_cifar10(folder)

    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Boom(), b"labels": [0]}))
    with pytest.raises(DataError, match="test_batch.*refused builtins.print"):
        read_cifar(folder, "cifar10")


def _save(path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)


def _tree(root, classes=("a", "b"), n=3, size=12):
    rng = np.random.default_rng(abs(hash(str(root))) % 2**32)
    for c in classes:
        for i in range(n):
            _save(root / c / f"{i}.png", rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_imagefolder_with_mixed_sizes_and_modes_loads_to_one_shape(tmp_path):
    _tree(tmp_path / "train")
    _tree(tmp_path / "test")
    _save(tmp_path / "train" / "a" / "gray.png", np.full((20, 30), 90, np.uint8))
    _save(tmp_path / "train" / "a" / "rgba.png", np.full((7, 9, 4), 200, np.uint8))
    Image.fromarray(np.full((10, 10), 40000, np.uint16)).save(tmp_path / "train" / "b" / "deep.png")
    assert Image.open(tmp_path / "train" / "b" / "deep.png").mode.startswith("I")
    _tree(tmp_path / "far" / "set", classes=("x",))
    data = load_data(DataParams(dataset="imagefolder", id_train_dir=str(tmp_path / "train"),
                                id_test_dir=str(tmp_path / "test"), far_ood_dirs=[str(tmp_path / "far")],
                                image_size=16))
    assert data.x_train.shape == (9, 3, 16, 16) and data.x_test.shape == (6, 3, 16, 16)
    assert data.classes == ["a", "b"] and data.groups == {"far": "far"} and data.ood["far"].shape[1:] == (3, 16, 16)
    assert data.x_train.min() >= 0 and data.x_train.max() <= 1 and not data.warnings


def test_an_empty_class_folder_is_named(tmp_path):
    _tree(tmp_path / "train")
    _tree(tmp_path / "test")
    (tmp_path / "train" / "c").mkdir()
    (tmp_path / "test" / "c").mkdir()
    with pytest.raises(DataError, match=r"train/c: class 'c' has no image files"):
        load_data(DataParams(dataset="imagefolder", id_train_dir=str(tmp_path / "train"),
                             id_test_dir=str(tmp_path / "test")))


def test_a_class_in_train_but_not_in_test_is_named(tmp_path):
    _tree(tmp_path / "train", classes=("a", "b", "c"))
    _tree(tmp_path / "test", classes=("a", "b"))
    with pytest.raises(DataError, match=r"id_test_dir: class\(es\) \['c'\] are in .*train but not in .*test"):
        load_data(DataParams(dataset="imagefolder", id_train_dir=str(tmp_path / "train"),
                             id_test_dir=str(tmp_path / "test")))


def test_an_ood_set_sharing_files_with_the_id_set_warns_about_leakage(tmp_path):
    _tree(tmp_path / "train")
    _tree(tmp_path / "test")
    leak = tmp_path / "near"
    leak.mkdir()
    for i in range(2):
        (leak / f"copy{i}.png").write_bytes((tmp_path / "test" / "a" / f"{i}.png").read_bytes())
    _save(leak / "fresh.png", np.zeros((12, 12, 3), np.uint8))
    data = load_data(DataParams(dataset="imagefolder", id_train_dir=str(tmp_path / "train"),
                                id_test_dir=str(tmp_path / "test"), near_ood_dirs=[str(leak)]))
    assert any("leakage" in w and "'near'" in w and "2 of its 3" in w for w in data.warnings), data.warnings


def test_digits_world_has_no_leakage_and_the_synthetic_outliers_are_none_of_its_sets():
    data = load_data(DataParams())
    assert data.num_classes == 6 and set(data.groups.values()) == {"near", "far"} and not data.warnings
    outliers = synthetic_outliers(200, 32, seed=0)
    assert outliers.shape == (200, 1, 32, 32) and outliers.std() > 0.05
    for images in (data.x_train, *data.ood.values()):
        assert count_shared(outliers, images) == 0


def _arch(num_classes: int) -> dict:
    return {"backbone": "digits-cnn", "width": 4, "stem": "cifar", "in_channels": 1, "num_classes": num_classes,
            "mean": [0.0], "std": [1.0], "head": "linear"}


def test_a_checkpoint_whose_classifier_does_not_fit_the_dataset_is_named(tmp_path):
    path = tmp_path / "ten.safetensors"
    save_model(build_network(_arch(10)), _arch(10), path, "ce", [str(i) for i in range(10)], "msp")
    with pytest.raises(CheckpointError, match=r"init_weights: .*ten.safetensors has a classifier for 10 classes "
                                              r"but the dataset has 6 classes"):
        load_model(str(path), num_classes=6, where="init_weights")
    assert load_model(str(path), num_classes=10).net.fc.out_features == 10


def test_a_file_that_is_not_a_classifier_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="neither a checkpoint of this plugin"):
        load_model(str(path))
    from workbench.api import UserError

    with pytest.raises(UserError, match="unknown zoo model 'nothing-here'"):
        load_model("zoo:nothing-here")
