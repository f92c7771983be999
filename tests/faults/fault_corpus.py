"""The fault corpus: every reader, one good file each, and a generator of bad variants of it.

A case writes the reader's good file, damages it one way (a generic fault any file can have, or one specific to
the format), reads it with the real reader and records whether the fault was handled: a :class:`UserError`
whose message names the file (or, for a reader that keeps going, every skipped item named), and the folder
byte for byte as it was before the read. ``tests/faults/test_fault_corpus.py`` asserts every case;
``tests/faults/corpus_figures.py`` runs the same cases and prints the figures in ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import pickle
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.errors import UserError

GENERIC = ("missing", "empty", "truncated", "garbage", "wrong-type", "directory", "unicode-name")
UNICODE_STEM = "ünïcödé-данные-数据-😀"
HUGE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Reader:
    """One reader. ``good(path)`` writes a readable input at ``path``; ``read(path)`` reads it with the real code.

    ``folder``: ``path`` is a folder and faults damage ``target`` inside it. ``text``: a text format (its
    wrong-type variant is a PNG; a binary format's is JSON). ``specific``: format faults, each a function that
    damages the good input in place. ``keeps_going``: the reader skips bad items instead of raising; a case is
    handled when it raises naming the file or returns ``problems`` that all name it.
    """

    name: str
    filename: str
    good: Callable[[Path], None]
    read: Callable[[Path], Any]
    text: bool = True
    folder: bool = False
    target: str = ""
    specific: dict[str, Callable[[Path], None]] = field(default_factory=dict)
    keeps_going: bool = False
    skip: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Case:
    """One reader meeting one fault; ``slow`` cases (64 MiB files) run with ``-m slow``."""

    reader: Reader
    fault: str
    slow: bool = False

    @property
    def id(self) -> str:
        return f"{self.reader.name}:{self.fault}"


@dataclass
class Outcome:
    """Whether the fault was handled (see the module docstring), the folder left as it was, and what was said."""

    handled: bool
    intact: bool
    message: str


# --- good inputs -------------------------------------------------------------------------------------------

def _png(path: Path, size: int = 8) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)


def _png_bytes() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def _write(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text, encoding="utf-8")


CLOUD = np.random.default_rng(1).normal(size=(40, 3))
CLOUD_ROWS = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in CLOUD) + "\n"
PLY = ("ply\nformat ascii 1.0\nelement vertex 40\nproperty float x\nproperty float y\nproperty float z\n"
       "end_header\n" + CLOUD_ROWS)
PCD = ("# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 40\nHEIGHT 1\n"
       "VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 40\nDATA ascii\n" + CLOUD_ROWS)


def _cloud_rows(extra: int) -> str:
    pad = " 0.5" * extra
    return "".join(f"{line}{pad}\n" for line in CLOUD_ROWS.splitlines())


def _pairs_images(folder: Path) -> None:
    for name in ("a.png", "b.png"):
        _png(folder / name)


def _csv(path: Path) -> None:
    _pairs_images(path.parent)
    path.write_text("image,caption,foil_index\na.png,a red circle on the left,-1\nb.png,a blue square above,1\n",
                    encoding="utf-8")


def _jsonl(path: Path) -> None:
    _pairs_images(path.parent)
    lines = [{"image": "a.png", "caption": "a red circle", "foil_index": -1},
             {"image": "b.png", "caption": "a blue square", "foil_index": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")


def _foil(path: Path) -> None:
    _pairs_images(path.parent)
    doc = {"images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}],
           "annotations": [{"id": 1, "image_id": 1, "caption": "a red circle", "foil_word": "ORIG"},
                           {"id": 2, "image_id": 2, "caption": "a green square", "foil_word": "green",
                            "target_word": "blue"}]}
    path.write_text(json.dumps(doc), encoding="utf-8")


def _caption_folder(folder: Path) -> None:
    folder.mkdir()
    _pairs_images(folder)
    (folder / "a.txt").write_text("a red circle", encoding="utf-8")
    (folder / "b.txt").write_text("a blue square", encoding="utf-8")


def _image_folder(root: Path) -> None:
    for cls in ("circle", "square"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            _png(root / cls / f"{i}.png")


def _image_tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    _png(root / "0.png")
    _png(root / "sub" / "1.png")


def _safetensors(path: Path) -> None:
    import torch

    from workbench.core.checkpoints import save_safetensors

    save_safetensors({"weight": torch.ones(8, 8), "bias": torch.zeros(8)}, path)


def _torch_state(path: Path) -> None:
    import torch

    torch.save({"weight": torch.ones(8, 8), "bias": torch.zeros(8)}, path)


def _linear():
    import torch

    torch.manual_seed(0)
    return torch.nn.Linear(4, 2)


def _training_checkpoint(path: Path) -> None:
    from workbench.core.training import save_checkpoint

    save_checkpoint(path, step=3, model=_linear())


def _onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _digits_weights(path: Path) -> None:
    from wb_digits.model import DigitsCNN
    from workbench.core.checkpoints import save_safetensors

    save_safetensors(DigitsCNN().state_dict(), path)


def _reward_weights(path: Path) -> None:
    from wb_shapes.reward import AttributeReward, save_reward

    save_reward(AttributeReward(width=4), path)


def _reward_metadata_wrong_tensors(path: Path) -> None:
    import torch

    from workbench.core.checkpoints import save_safetensors

    save_safetensors({"head.weight": torch.ones(2, 2)}, path, metadata={"architecture": "AttributeReward",
                                                                         "width": "4"})


def _lora(path: Path, sdxl: bool = False) -> None:
    """A tiny pipeline's LoRA, saved in diffusers format, moved to ``path``."""
    from wb_diffusion.lora import add_lora, save_lora
    from wb_diffusion.tiny import tiny_sd_pipeline, tiny_sdxl_pipeline

    pipe = (tiny_sdxl_pipeline if sdxl else tiny_sd_pipeline)(seed=0)
    add_lora(pipe.unet, rank=2)
    save_lora(pipe, path.parent / f"{path.name}.saved").replace(path)
    (path.parent / f"{path.name}.saved").rmdir()


def _source_stats(path: Path) -> None:
    import torch

    from wb_tta.cafa import SourceStats

    SourceStats(torch.zeros(3, 4), torch.eye(4).repeat(3, 1, 1), torch.ones(3, dtype=torch.long), "class", 0.0,
                "fp").save(path)


RECIPE = "name: r\nsteps:\n  - name: scenes\n    task: shapes.scenes\n    params: {count: 2}\n"


def _run_folder(folder: Path) -> None:
    from workbench.core.results import MetricsTable
    from workbench.core.runstore import RunRecord, RunState, RunStore

    (folder / "results").mkdir(parents=True)
    MetricsTable(name="table", columns=["k", "v"], rows=[["a", 1.0]]).save(folder / "results")
    RunStore.save(folder, RunRecord(id="r1", task="test.echo", state=RunState.COMPLETED, results=["table"]))


def _batch_folder(folder: Path) -> None:
    from workbench.core.atomic import atomic_write_text
    from workbench.core.batch import BatchRecord, StepRecord

    _run_folder(folder / "runs" / "r1")
    record = BatchRecord(name="b", recipe="r.yaml", folder=str(folder), state="completed",
                         steps=[StepRecord(index=1, name="s", task="test.echo", state="completed",
                                           run_dir=str(folder / "runs" / "r1"))])
    atomic_write_text(folder / "batch.json", record.model_dump_json(indent=1))


def _result(path: Path) -> None:
    from workbench.core.results import Heatmap

    Heatmap(name="heat", image=np.zeros((4, 4, 3), np.uint8), heat=np.ones((4, 4))).save(path.parent)


def _card(path: Path) -> None:
    shutil.copyfile(Path(__file__).parents[2] / "models" / "digits-cnn" / "card.json", path)


def _cifar(folder: Path) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        doc = {b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 1]}
        (folder / name).write_bytes(pickle.dumps(doc))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a", b"b", b"c"]}))


# --- readers -----------------------------------------------------------------------------------------------

def _read_cloud(path: Path):
    from wb_registration.readers import read_cloud

    return read_cloud(path)


def _read_pairs(path: Path):
    from wb_clipmap.readers import read_pairs

    return read_pairs(path)


def _captioned_folder(folder: Path) -> None:
    _caption_folder(folder)
    (folder / "b.txt").write_text("a blue square", encoding="utf-8")


def _read_captioned(path: Path):
    from wb_clim.captioned import read_captioned

    return read_captioned(str(path), "", 16, 1)


def _read_recipe(path: Path):
    from workbench.core.plugins import get_host
    from workbench.core.recipes import load_recipe

    return load_recipe(path, get_host().registry)


def _read_run(folder: Path):
    from workbench.core.runstore import RunStore

    return RunStore.results(folder)


def _read_batch(folder: Path):
    from workbench.render.report import expand_folders

    return expand_folders([folder])


def _read_result(path: Path):
    from workbench.core.results import Result

    return Result.load(path)


def _read_config(path: Path):
    from workbench.core.plugins import _read_config

    return _read_config(path)


def _read_state_dict(path: Path):
    from workbench.core.checkpoints import load_state_dict

    return load_state_dict(path)


def _read_training(path: Path):
    from workbench.core.training import load_checkpoint

    return load_checkpoint(path, model=_linear())


def _read_onnx(path: Path):
    from workbench.core.inference import inference_session

    return inference_session(_linear(), (), engine="onnx", device="cpu", onnx_file=path)


def _read_image(path: Path):
    from workbench.core.images import read_image

    return read_image(path)


def _read_image_folder(path: Path):
    from workbench.core.images import read_image_folder

    return read_image_folder(path)


def _read_image_folder_skipping(path: Path):
    from workbench.core.images import read_image_folder

    return read_image_folder(path, on_error="skip")


def _read_image_tree(path: Path):
    from workbench.core.images import read_image_tree

    return read_image_tree(path, what="ood_dir")


def _read_transform(path: Path):
    from wb_registration.readers import read_transform

    return read_transform(path)


def _read_correspondences(path: Path):
    from wb_registration.readers import read_correspondences

    return read_correspondences(path, 40, 40)


def _read_digits(path: Path):
    from wb_digits.zoo import load_model

    return load_model(path)


def _read_reward(path: Path):
    from wb_shapes.reward import load_reward

    return load_reward(path)


def _read_ood_checkpoint(path: Path):
    from wb_oodtrain.checkpoints import load_model

    return load_model(str(path))


def _read_lora(path: Path):
    from wb_diffusion.lora import continue_lora
    from wb_diffusion.tiny import tiny_sd_pipeline

    return continue_lora(tiny_sd_pipeline(seed=0), str(path))


def _read_source_stats(path: Path):
    from wb_tta.cafa import load_source_stats

    return load_source_stats(path)


def _read_card(path: Path):
    from workbench.core.registry import read_card

    return read_card(path)


def _read_boxes(path: Path):
    from wb_clim.inputs import read_box_file

    return read_box_file(path)


def _read_cifar(path: Path):
    from wb_oodtrain.data import read_cifar

    return read_cifar(path, "cifar10")


# --- format faults (each damages the good input in place) ---------------------------------------------------

def _replace(old: str, new: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    return damage


def _save_npy(array) -> Callable[[Path], None]:
    return lambda path: np.save(path, array, allow_pickle=True) if path.suffix == ".npy" else \
        np.savetxt(path, array)


def _huge_png(path: Path) -> None:
    """A PNG header claiming 100000 x 100000 pixels (a decompression bomb)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk +
                     struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _nan_tiff(path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.full((4, 4), np.nan, np.float32), mode="F").save(path.with_suffix(".tif"))
    path.with_suffix(".tif").replace(path)


def _tensor_file(tensors: dict, *, torch_format: bool = False) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        import torch

        from workbench.core.checkpoints import save_safetensors

        if torch_format:
            torch.save(tensors, path)
        else:
            save_safetensors(tensors, path)
    return damage


def _nan_tensors() -> dict:
    import torch

    return {"weight": torch.full((8, 8), float("nan")), "bias": torch.zeros(8)}


def _huge_safetensors_header(path: Path) -> None:
    path.write_bytes((2**60).to_bytes(8, "little") + b"{}")


class _Exploit:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def _pickled_code(path: Path) -> None:
    path.write_bytes(pickle.dumps({"weight": _Exploit()}))


def _torch_list(path: Path) -> None:
    import torch

    torch.save([1, 2, 3], path)


def _onnx_not_a_model(path: Path) -> None:
    from onnx import numpy_helper

    path.write_bytes(numpy_helper.from_array(np.ones(3, np.float32)).SerializeToString())


def _deep_json(path: Path) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")


def _json_edit(edit: Callable[[dict], Any]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(edit(doc) or doc), encoding="utf-8")
    return damage


def _set(key: str, value: Any) -> Callable[[dict], None]:
    return lambda doc: doc.__setitem__(key, value)


def _loose_files(path: Path) -> None:
    """Images straight in the root, no class folders."""
    root = path.parents[1]
    for folder in [p for p in root.iterdir() if p.is_dir()]:
        shutil.rmtree(folder)
    _png(root / "loose.png")


def _empty_class(path: Path) -> None:
    for file in path.parent.iterdir():
        file.unlink()


def _all_unreadable(path: Path) -> None:
    for file in path.parents[1].rglob("*.png"):
        file.write_bytes(b"not a png")


def _cifar_batch(doc: dict) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(pickle.dumps(doc))


CLOUD_FAULTS = {
    "ragged": lambda path: path.write_text(CLOUD_ROWS + "1 2\n", encoding="utf-8"),
    "wrong-shape": lambda path: path.write_text("1 2\n3 4\n5 6\n", encoding="utf-8"),
    "nan-inf": lambda path: path.write_text("nan inf 0\n" * 40, encoding="utf-8"),
    "huge": lambda path: path.write_text("1e400 0 0\n" * 40, encoding="utf-8"),
}


def _counted(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """A .pts fault keeps the format's first line (the point count)."""
    def counted(path: Path) -> None:
        damage(path)
        path.write_text("40\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return counted


HEADERLESS = frozenset({"truncated"})  # a headerless text cloud cut at a row boundary is a smaller, valid cloud


def _cloud_reader(suffix: str, good: Callable[[Path], None], specific: dict | None = None,
                  skip: frozenset[str] = HEADERLESS) -> Reader:
    return Reader(f"point cloud {suffix}", f"cloud{suffix}", good, _read_cloud, text=suffix != ".npy",
                  specific=CLOUD_FAULTS if specific is None else specific, skip=skip)


READERS: list[Reader] = [
    Reader("image .png", "picture.png", _png, _read_image, text=False,
           specific={"huge": _huge_png, "nan-inf": _nan_tiff}),
    Reader("image .jpg", "picture.jpg", _png, _read_image, text=False, specific={"huge": _huge_png}),
    Reader("image .tif", "picture.tif", _png, _read_image, text=False, specific={"nan-inf": _nan_tiff}),
    Reader("image .bmp", "picture.bmp", _png, _read_image, text=False),
    Reader("image .webp", "picture.webp", _png, _read_image, text=False),
    Reader("image folder", "train", _image_folder, _read_image_folder, folder=True, target="circle/0.png",
           text=False, specific={"wrong-shape": _loose_files, "empty-class": _empty_class,
                                 "all-unreadable": _all_unreadable}),
    Reader("image folder (on_bad_image=skip)", "train", _image_folder, _read_image_folder_skipping, folder=True,
           target="circle/0.png", text=False, keeps_going=True,
           specific={"all-unreadable": _all_unreadable}),
    Reader("image tree (ood_dir)", "ood", _image_tree, _read_image_tree, folder=True, target="sub/1.png",
           text=False),
    Reader("captions .csv", "pairs.csv", _csv, _read_pairs, keeps_going=True,
           specific={"wrong-shape": _replace("image,caption,foil_index", "picture,text"),
                     "short-row": _replace("a.png,a red circle on the left,-1", "a.png"),
                     "nan-inf": _replace(",1\n", ",nan\n")}),
    Reader("captions .jsonl", "pairs.jsonl", _jsonl, _read_pairs, keeps_going=True,
           specific={"wrong-shape": _write("[1, 2]\n\"text\"\n"),
                     "nan-inf": _replace('"foil_index": 1', '"foil_index": NaN')}),
    Reader("captions FOIL COCO .json", "foil.json", _foil, _read_pairs, keeps_going=True,
           specific={"wrong-shape": _write("[1, 2, 3]"), "huge": _deep_json,
                     "nan-inf": _replace('"image_id": 2', '"image_id": NaN')}),
    Reader("captions folder", "captions", _caption_folder, _read_pairs, folder=True, target="a.txt",
           keeps_going=True, skip=frozenset({"truncated"})),  # a shortened caption is still a caption
    Reader("CLIM captioned set (an image)", "captioned", _captioned_folder, _read_captioned, text=False,
           folder=True, target="a.png", keeps_going=True),
    _cloud_reader(".ply", _write(PLY), {**CLOUD_FAULTS, "huge": _replace("element vertex 40",
                                                                          "element vertex 999999999999")},
                  skip=frozenset()),
    _cloud_reader(".pcd", _write(PCD), {**CLOUD_FAULTS, "huge": _replace("POINTS 40", "POINTS 999999999999")},
                  skip=frozenset()),
    _cloud_reader(".xyz", _write(CLOUD_ROWS)),
    _cloud_reader(".xyzn", _write(_cloud_rows(3))),
    _cloud_reader(".xyzrgb", _write(_cloud_rows(3))),
    _cloud_reader(".pts", _write(f"40\n{CLOUD_ROWS}"), {k: _counted(v) for k, v in CLOUD_FAULTS.items()}),
    _cloud_reader(".txt", _write(CLOUD_ROWS)),
    _cloud_reader(".npy", lambda p: np.save(p, CLOUD), skip=frozenset(),
                  specific={"wrong-shape": _save_npy(np.ones((4, 2))), "nan-inf": _save_npy(np.full((5, 3), np.inf)),
                   "pickled": _save_npy(np.array([{"a": 1}], dtype=object))}),
    Reader("transform .txt", "gt.txt", lambda p: np.savetxt(p, np.eye(4)), _read_transform,
           specific={"wrong-shape": _save_npy(np.eye(3)), "nan-inf": _save_npy(np.full((4, 4), np.nan)),
                     "not-rigid": _save_npy(np.diag([2.0, 1, 1, 1]))}),
    Reader("transform .npy", "gt.npy", lambda p: np.save(p, np.eye(4)), _read_transform, text=False,
           specific={"wrong-shape": _save_npy(np.eye(3)), "nan-inf": _save_npy(np.full((4, 4), np.inf))}),
    Reader("correspondences .txt", "matches.txt", lambda p: np.savetxt(p, np.array([[0, 1], [2, 3]])),
           _read_correspondences,
           specific={"wrong-shape": _save_npy(np.ones((3, 4))), "nan-inf": _save_npy(np.array([[0, np.nan]])),
                     "huge": _save_npy(np.array([[0, 1], [5, 10**9]])), "negative": _save_npy(np.array([[-1, 0]])),
                     "fractional": _save_npy(np.array([[0.5, 1]]))}),
    Reader("correspondences .npy", "matches.npy", lambda p: np.save(p, np.array([[0, 1], [2, 3]])),
           _read_correspondences, text=False,
           specific={"wrong-shape": _save_npy(np.ones((2, 2, 2))), "pickled": _save_npy(np.array([None]))}),
    Reader("checkpoint .safetensors", "w.safetensors", _safetensors, _read_state_dict, text=False,
           specific={"nan-inf": lambda p: _tensor_file(_nan_tensors())(p), "huge": _huge_safetensors_header}),
    Reader("checkpoint .pt", "w.pt", _torch_state, _read_state_dict, text=False,
           specific={"pickled-code": _pickled_code, "wrong-shape": _torch_list,
                     "nan-inf": lambda p: _tensor_file(_nan_tensors(), torch_format=True)(p)}),
    Reader("checkpoint .pth", "w.pth", _torch_state, _read_state_dict, text=False,
           specific={"pickled-code": _pickled_code}),
    Reader("checkpoint .bin", "pytorch_model.bin", _torch_state, _read_state_dict, text=False,
           specific={"pickled-code": _pickled_code}),
    Reader("training checkpoint (resume)", "checkpoint.pt", _training_checkpoint, _read_training, text=False,
           specific={"wrong-shape": _torch_state, "pickled-code": _pickled_code}),
    Reader("zoo weights (digits CNN)", "digits.safetensors", _digits_weights, _read_digits, text=False,
           specific={"wrong-shape": _safetensors}),
    Reader("zoo weights (shapes reward model)", "reward.safetensors", _reward_weights, _read_reward, text=False,
           specific={"wrong-shape": _reward_metadata_wrong_tensors, "other-architecture": _digits_weights}),
    Reader("diffusion LoRA (lora, init_lora)", "lora.safetensors", _lora, _read_lora, text=False,
           specific={"other-architecture": lambda p: _lora(p, sdxl=True), "wrong-shape": _safetensors,
                     "nan-inf": lambda p: _tensor_file(_nan_tensors())(p)}),
    Reader("OOD checkpoint (ood.evaluate)", "model.safetensors", _digits_weights, _read_ood_checkpoint,
           text=False, specific={"wrong-shape": _safetensors}),
    Reader("CAFA source statistics", "stats.safetensors", _source_stats, _read_source_stats, text=False,
           specific={"wrong-shape": _safetensors}),
    Reader("ONNX model", "model.onnx", _onnx, _read_onnx, text=False,
           specific={"wrong-shape": _onnx_not_a_model}),
    Reader("recipe", "recipe.yaml", _write(RECIPE), _read_recipe,
           specific={"wrong-shape": _write("- just\n- a list\n"), "unknown-task": _replace("shapes.scenes", "nope"),
                     "unknown-param": _replace("count: 2", "colour: 2"),
                     "nan-inf": _replace("count: 2", "count: .inf"),
                     "huge": _replace("count: 2", "count: 99999999999999999999999")}),
    Reader("run folder (run.json)", "run", _run_folder, _read_run, folder=True, target="run.json",
           specific={"wrong-shape": _write("[]"), "newer-schema": _json_edit(_set("schema_version", 99)),
                     "bad-state": _json_edit(_set("state", "exploded")), "huge": _deep_json}),
    Reader("run folder (results)", "run", _run_folder, _read_run, folder=True, target="results/table.json",
           specific={"wrong-shape": _json_edit(_set("fields", {"rows": 3})),
                     "newer-schema": _json_edit(_set("schema_version", 99))}),
    Reader("batch folder (batch.json)", "batch", _batch_folder, _read_batch, folder=True, target="batch.json",
           specific={"wrong-shape": _json_edit(_set("steps", 3)), "huge": _deep_json},
           skip=frozenset({"missing", "directory"})),  # no such folder: the report reads it as a run folder
    Reader("result with arrays (.json + .npz)", "heat.json", _result, _read_result,
           specific={"npz-missing": lambda p: p.with_suffix(".npz").unlink(),
                     "npz-corrupt": lambda p: p.with_suffix(".npz").write_bytes(b"PK\x03\x04broken"),
                     "wrong-shape": _json_edit(_set("fields", []))}),
    Reader("config (WORKBENCH_CONFIG)", "config.yaml", _write("plugins:\n  deny: [wb_tta]\n"), _read_config,
           specific={"wrong-shape": _write("plugins: [wb_tta]\n")}, skip=frozenset({"empty"})),  # no settings
    Reader("model card", "card.json", _card, _read_card,
           specific={"wrong-shape": _write("[]"), "newer-schema": _json_edit(_set("schema_version", 99)),
                     "huge": _deep_json}),
    Reader("region box file", "boxes.json", _write('[{"box": [0, 0, 4, 4], "label": "circle"}]'), _read_boxes),
    Reader("CIFAR python batches", "cifar", _cifar, _read_cifar, folder=True, target="test_batch", text=False,
           specific={"wrong-shape": _cifar_batch({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}),
                     "pickled-code": _pickled_code}),
]


def cases(include_slow: bool = True) -> list[Case]:
    """Every reader's generic faults (less those in its ``skip``), its own faults, and its 64 MiB garbage file."""
    out = []
    for reader in READERS:
        for fault in (*GENERIC, *reader.specific):
            if fault not in reader.skip:
                out.append(Case(reader, fault))
        if include_slow:
            out.append(Case(reader, "huge-garbage", slow=True))
    return out


# --- running a case ----------------------------------------------------------------------------------------

def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders): equal snapshots mean nothing changed."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _garbage(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _damage(case: Case, path: Path, target: Path) -> Path:
    """Apply the fault; returns the path the message must name."""
    reader, fault = case.reader, case.fault
    data = target.read_bytes() if target.is_file() else b""
    if fault == "missing":
        victim = path if reader.folder else target
        if victim.is_dir():
            shutil.rmtree(victim)
        else:
            victim.unlink()
        return victim
    if fault == "directory":
        if reader.folder:
            shutil.rmtree(path)
            path.write_text("a file where a folder belongs", encoding="utf-8")
            return path
        target.unlink()
        target.mkdir()
    elif fault == "empty":
        target.write_bytes(b"")
    elif fault == "truncated":
        target.write_bytes(data[: max(1, len(data) * 3 // 5)])
    elif fault == "garbage":
        target.write_bytes(_garbage(512, 1))
    elif fault == "huge-garbage":
        target.write_bytes(_garbage(HUGE_BYTES, 2))
    elif fault == "wrong-type":
        target.write_bytes(_png_bytes() if reader.text else json.dumps({"not": "this format"}).encode())
    elif fault == "unicode-name":
        if reader.folder:
            target.write_bytes(_garbage(512, 3))
            return target
        renamed = target.with_name(UNICODE_STEM + "".join(target.suffixes))
        target.rename(renamed)
        renamed.write_bytes(_garbage(512, 3))
        return renamed
    else:
        reader.specific[fault](target)
    return target


def run_case(case: Case, workdir: Path) -> Outcome:
    """Build the good input in ``workdir``, damage it and read it; whatever the reader raises is recorded."""
    reader = case.reader
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / (f"{UNICODE_STEM}-{reader.filename}" if reader.folder and case.fault == "unicode-name"
                      else reader.filename)
    reader.good(path)
    target = path / reader.target if reader.folder else path
    named = _damage(case, path, target)
    read_path = named if not reader.folder and case.fault == "unicode-name" else path
    before = _snapshot(workdir)
    try:
        value = reader.read(read_path)
    except UserError as exc:
        message = str(exc)
        handled = str(named) in message or (reader.folder and str(path) in message)
    except Exception as exc:  # a raw library error is exactly what the corpus looks for
        message, handled = f"unhandled {type(exc).__name__}: {exc}", False
    else:
        problems = list(getattr(value, "problems", None) or getattr(value, "skipped", None) or [])
        message = "; ".join(problems) or f"accepted silently ({type(value).__name__})"
        handled = reader.keeps_going and bool(problems) and all(str(named) in p or str(path) in p
                                                                for p in problems)
    return Outcome(handled=handled, intact=_snapshot(workdir) == before, message=message[:400])
