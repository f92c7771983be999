"""The fault corpus, first readers: corrupt, truncated, empty, wrong-shape, NaN and unicode-named inputs. Each case
gets a clear error naming the file (never a raw library exception), and nothing is written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.core.errors import UserError

GOOD_PLY = "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n" \
           "end_header\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n"

CLOUDS = {
    "truncated.ply": GOOD_PLY[:-14],
    "garbage.ply": "this is not a ply file\n",
    "empty.ply": "",
    "garbage.pcd": "# .PCD v0.7\nFIELDS x y\nDATA ascii\n1 2\n",
    "two-columns.xyz": "1 2\n3 4\n5 6\n",
    "nan.xyz": "nan 0 0\n1 2 3\n",
    "tiny.xyz": "1 2 3\n",
    "ünïcödé-empty.pts": "",
}


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_bad_point_cloud_files_name_the_file(tmp_path, name):
    from wb_registration.readers import read_cloud

    path = tmp_path / name
    path.write_text(CLOUDS[name])
    with pytest.raises(UserError) as info:
        read_cloud(path, drop_invalid=False)
    assert str(path) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_good_ply_and_a_unicode_name_read(tmp_path):
    from wb_registration.readers import read_cloud

    path = tmp_path / "wolke-ü.ply"
    path.write_text(GOOD_PLY)
    assert read_cloud(path).shape == (4, 3)


def _safetensors(tmp_path):
    import torch

    from workbench.core.checkpoints import save_safetensors

    path = tmp_path / "w.safetensors"
    save_safetensors({"a": torch.ones(64, 64)}, path)
    return path


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "header-only"])
def test_damaged_weight_files_are_refused_naming_the_file(tmp_path, damage):
    from workbench.core.checkpoints import load_state_dict

    path = _safetensors(tmp_path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00garbage" * 10, "empty": b"",
                      "header-only": data[:8]}[damage])
    with pytest.raises(UserError, match="w.safetensors"):
        load_state_dict(path)


def test_a_damaged_zoo_weight_file_through_its_loader_names_the_file(tmp_path):
    from wb_digits.zoo import load_model

    path = tmp_path / "digits.safetensors"
    path.write_bytes(b"{not safetensors")
    with pytest.raises(UserError, match="digits.safetensors"):
        load_model(path)
    with pytest.raises(UserError, match="weights: .*missing.safetensors does not exist"):
        load_model(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("content", ["{not json", "[]", json.dumps({"id": 3}), ""])
def test_a_corrupt_run_json_is_a_clear_error_for_report_and_rerun(tmp_path, content):
    from workbench.core.runstore import RunStore

    (tmp_path / "run.json").write_text(content)
    with pytest.raises(UserError, match="run.json"):
        RunStore.load(tmp_path)


@pytest.mark.parametrize("text, message", [
    ("", "a recipe is a mapping"),
    ("steps:\n  - task: shapes.scenes\n    sweep: {zip: {count: [1, 2], split: [test]}}\n", "same length"),
    ("steps:\n  - task: shapes.scenes\n    sweep: {grid: {count: []}}\n", "a grid list is empty"),
    ("steps:\n  - task: shapes.scenes\n    seed: 99999999999999999999\n", "seed"),
    ("\x00\x01binary", "not valid YAML"),
])
def test_bad_recipes_name_the_file_and_the_step(tmp_path, text, message):
    from workbench.core.plugins import get_host
    from workbench.core.recipes import RecipeError, load_recipe

    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(path, get_host().registry)
    assert str(path) in str(info.value)


def test_nan_and_huge_values_in_a_correspondence_file_are_refused(tmp_path):
    from wb_registration.readers import read_correspondences

    path = tmp_path / "c.txt"
    np.savetxt(path, np.array([[0, 1], [np.nan, 2]]))
    with pytest.raises(UserError, match="NaN or inf"):
        read_correspondences(path, 10, 10)
    np.savetxt(path, np.array([[0, 1], [5, 10**9]]))
    with pytest.raises(UserError, match=str(path)):
        read_correspondences(path, 10, 10)
