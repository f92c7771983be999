"""Safe checkpoint loading, image reading errors, devices, results round-trip and their pictures."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from workbench.api import CheckpointError, ImageReadError, load_into, load_state_dict, read_image, read_image_folder
from workbench.core import results as R
from workbench.core.devices import DeviceError, resolve
from workbench.core.plugins import PluginHost
from workbench.render.export import export_result


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_pickle_is_refused_and_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"weight": Evil(marker)}, fh)
    with pytest.raises(CheckpointError, match="refused"):
        load_state_dict(path)
    assert not marker.exists()


def test_plain_state_dict_and_safetensors_load(tmp_path):
    from workbench.api import save_safetensors

    model = torch.nn.Linear(3, 2)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "m.pt")
    save_safetensors(model.state_dict(), tmp_path / "m.safetensors")
    for name in ("m.pt", "m.safetensors"):
        other = torch.nn.Linear(3, 2)
        load_into(other, tmp_path / name)
        assert torch.equal(other.weight, model.weight)


def test_checkpoint_mismatch_names_the_key(tmp_path):
    torch.save(torch.nn.Linear(3, 5).state_dict(), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"weight has shape \(5, 3\) but the model expects \(2, 3\)"):
        load_into(torch.nn.Linear(3, 2), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_state_dict(tmp_path / "missing.pt")


def test_corrupt_image_names_the_file(tmp_path):
    from PIL import Image

    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "a" / "ok.png")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image_folder(root)
    folder = read_image_folder(root, on_error="skip")
    assert len(folder.images) == 1 and len(folder.skipped) == 1 and "broken.png" in folder.skipped[0]
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(root / "nope.png")


def test_image_tree_reads_recursively_and_names_bad_files(tmp_path):
    from PIL import Image

    from workbench.api import read_image_tree

    (tmp_path / "set" / "sub").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "set" / "a.png")
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "set" / "sub" / "b.png")
    (tmp_path / "set" / "sub" / "c.png").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match=r"outlier_dir: .*c\.png"):
        read_image_tree(tmp_path / "set", what="outlier_dir")
    found = read_image_tree(tmp_path / "set", mode="L", on_error="skip")
    assert [p.name for p in found.paths] == ["a.png", "b.png"] and len(found.skipped) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="x: .*empty holds no image files"):
        read_image_tree(tmp_path / "empty", what="x")


def test_sixteen_bit_and_rgba_images_convert(tmp_path):
    from PIL import Image

    Image.fromarray((np.arange(16).reshape(4, 4) * 4000).astype(np.uint16)).save(tmp_path / "a.png")
    Image.fromarray(np.full((4, 4, 4), 200, np.uint8), mode="RGBA").save(tmp_path / "b.png")
    a = read_image(tmp_path / "a.png", mode="L")
    b = read_image(tmp_path / "b.png", mode="RGB")
    assert a.dtype == np.uint8 and a.max() == 255 and a.min() == 0
    assert b.shape == (4, 4, 3)


def test_cuda_request_without_cuda_is_an_error():
    spec = PluginHost().registry.tasks["ood.posthoc"]
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="no usable CUDA device"):
        resolve(spec, "torch", "cuda")
    assert resolve(spec, "auto", "auto").backend == "torch-cpu"
    assert resolve(spec, "onnx", "auto").backend == "onnx-cpu"
    with pytest.raises(DeviceError, match="unknown backend"):
        resolve(spec, "tensorflow")


def _examples():
    rng = np.random.default_rng(0)
    img = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    return [
        R.MetricsTable(name="m", columns=["a", "b"], rows=[["x", 1.5]]),
        R.ScoreSet(name="s", scores={"msp": {"id": rng.random(20) + 1, "ood": rng.random(20)}}, id_set="id",
                   groups={"ood": "far"}),
        R.ImageGrid(name="g", images=[img, img[..., 0]], captions=["a", "b"]),
        R.Heatmap(name="h", image=img, heat=rng.normal(size=(4, 4)), signed=True),
        R.TokenScores(name="t", tokens=["a", "red", "cube"], scores=np.array([0.1, -0.5, 0.2]),
                      flags=np.array([False, True, False]), threshold=-0.3, summary={"clipscore": 0.3}),
        R.Regions(name="r", image=img, boxes=np.array([[1, 1, 8, 8]]), labels=["box"], scores=np.array([0.9])),
        R.Curves(name="c", series={"loss": np.array([[0, 1, 2], [3, 2, 1.0]])}),
        R.Registration(name="reg", source=rng.random((30, 3)), target=rng.random((30, 3)),
                       correspondences=np.stack([np.arange(10), np.arange(10)], 1), inliers=np.arange(10) < 5),
    ]


@pytest.mark.parametrize("result", _examples(), ids=lambda r: r.kind)
def test_every_result_kind_round_trips_and_renders(result, tmp_path):
    result.save(tmp_path)
    loaded = R.Result.load(tmp_path / f"{result.name}.json")
    assert type(loaded) is type(result)
    for field in result.__dataclass_fields__:
        a, b = getattr(result, field), getattr(loaded, field)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        elif field == "images":
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        elif field == "scores" and isinstance(a, dict):
            assert all(np.array_equal(a[d][s], b[d][s]) for d in a for s in a[d])
        elif field != "series":
            assert a == b, field
    files = export_result(loaded, tmp_path / "out")
    assert files and all(f.stat().st_size > 0 for f in files)
    if result.kind != "metrics":
        assert files[-1].read_bytes()[:4] == b"\x89PNG"


def test_a_plain_table_is_saved_without_picture_fields_and_a_table_with_pictures_round_trips(tmp_path):
    plain = R.MetricsTable(name="plain", columns=["a"], rows=[[1]])
    plain.save(tmp_path)
    assert set(json.loads((tmp_path / "plain.json").read_text())["fields"]) == {"name", "title", "columns", "rows",
                                                                                 "notes"}
    thumbs = [np.full((4, 5, 3), 7, np.uint8), np.zeros((0,), np.uint8)]
    pictured = R.MetricsTable(name="pictured", columns=["a"], rows=[[1], [2]], thumbnails=thumbs,
                              item_paths=["", "b.png"])
    pictured.save(tmp_path)
    loaded = R.Result.load(tmp_path / "pictured.json")
    np.testing.assert_array_equal(loaded.picture(0), thumbs[0])
    assert loaded.picture(1) == "b.png"
