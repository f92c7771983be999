"""clim.tune on a user's captioned image set: a folder of images of different sizes with .txt captions, a JSONL
naming missing images, COCO captions; unusable items are skipped, counted and named; too few is an error."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from wb_clim.captioned import read_captioned, square
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunState, RunStore

SMALL = {"model": "wb-tiny-clip", "weights": "random", "batch_size": 4, "grids": [2], "eval_scenes": 2,
         "warmup_steps": 1, "steps": 2}
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "white": (240, 240, 240),
           "yellow": (230, 230, 20)}


def _folder(tmp_path):
    """Five images of five sizes with captions, one without its caption file, one that is not an image."""
    folder = tmp_path / "set"
    folder.mkdir()
    for k, (name, rgb) in enumerate(COLOURS.items()):
        size = (40 + 30 * k, 64 + 10 * k)
        Image.new("RGB", size, rgb).save(folder / f"{name}.png")
        (folder / f"{name}.txt").write_text(f"a {name} picture")
    Image.new("RGB", (64, 64)).save(folder / "uncaptioned.png")
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "broken.txt").write_text("a broken picture")
    return folder


def _run(runner, params):
    return runner.run(RunRequest(task="clim.tune", params={**SMALL, **params}, backend="torch", device="cpu",
                                 execution="inproc", seed=0))


def test_a_folder_of_images_of_any_size_tunes_and_the_skipped_items_are_named(clim_runner, tmp_path):
    folder = _folder(tmp_path)
    job, record = _run(clim_runner, {"captions": str(folder)})
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    log = (job.run_dir / "log.txt").read_text()
    assert "5 captioned images, 2 skipped" in log
    assert "uncaptioned.png: no caption file" in log and "broken.png" in log
    assert "5 were not 64 px squares" in log
    table = {r.name: r for r in RunStore.results(job.run_dir)}["before-after"]
    assert "2 skipped" in table.notes


def test_images_are_centre_cropped_squares_and_batches_cover_every_image_each_pass(tmp_path):
    wide = np.zeros((40, 100, 3), np.uint8)
    wide[:, 30:70] = 255
    assert (square(wide, 20) == 255).all()
    data = read_captioned(str(_folder(tmp_path)), "", 32, 2)
    assert {im.shape for im in data.images} == {(32, 32, 3)}
    first = [c for step in range(5) for c in data.batch(step, 2, seed=3)[1]]
    assert sorted(first[:5]) == sorted(first[5:]) == sorted(data.captions)  # two whole passes
    assert data.batch(1, 2, seed=3) == data.batch(1, 2, seed=3)


def test_jsonl_and_coco_captions_and_too_few_images(clim_runner, tmp_path):
    folder = _folder(tmp_path)
    lines = [{"image": f"{name}.png", "caption": f"a {name} picture"} for name in COLOURS] + \
        [{"image": "gone.png", "caption": "a missing picture"}]
    (folder / "pairs.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    data = read_captioned(str(folder / "pairs.jsonl"), "", 64, 4)
    assert len(data.images) == 5 and len(data.skipped) == 1 and "gone.png: no such file" in data.skipped[0]
    coco = {"images": [{"id": i, "file_name": f"{name}.png"} for i, name in enumerate(COLOURS)],
            "annotations": [{"id": 10 + i, "image_id": i, "caption": f"a {name} picture"}
                            for i, name in enumerate(COLOURS)] + [{"id": 99, "image_id": 42, "caption": "x"}]}
    (folder / "captions.json").write_text(json.dumps(coco))
    data = read_captioned(str(folder / "captions.json"), "", 64, 4)
    assert sorted(data.captions) == sorted(f"a {name} picture" for name in COLOURS)
    assert len(data.skipped) == 1 and "unknown image_id 42" in data.skipped[0]
    _, record = _run(clim_runner, {"captions": str(folder / "pairs.jsonl"), "batch_size": 9})
    assert record.state == RunState.FAILED
    assert "5 usable captioned images, fewer than batch_size=9" in record.error and "gone.png" in record.error
