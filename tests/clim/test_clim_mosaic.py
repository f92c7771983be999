"""CLIM mosaics (notes 5.3, check 9): row-major tiling, pseudo-boxes tile the unit square, pooled colours."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wb_clim.mosaic import build_mosaic, build_mosaics, cell_boxes, split_batch
from workbench.clip.dense import region_features


def _constant(k: int, size: int = 12) -> np.ndarray:
    colour = np.array([(37 * k) % 256, (91 * k + 13) % 256, (53 * k + 101) % 256], np.uint8)
    return np.broadcast_to(colour, (size, size, 3)).copy()


@pytest.mark.parametrize("grid", [1, 2, 3, 4])
def test_pseudo_boxes_tile_the_unit_square_row_major(grid):
    boxes = cell_boxes(grid)
    assert boxes.shape == (grid * grid, 4)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert area.sum() == pytest.approx(1.0) and np.allclose(area, 1 / grid**2)
    assert boxes.min() == 0.0 and boxes.max() == 1.0
    # row-major: x advances first, then y
    if grid > 1:
        assert boxes[1].tolist() == pytest.approx([1 / grid, 0.0, 2 / grid, 1 / grid])
    order = sorted(range(grid * grid), key=lambda i: (boxes[i, 1], boxes[i, 0]))
    assert order == list(range(grid * grid))
    # no two cells overlap: every cell centre of a fine lattice is in exactly one box
    xs = (np.arange(48) + 0.5) / 48
    px, py = np.meshgrid(xs, xs)
    inside = ((px[..., None] >= boxes[:, 0]) & (px[..., None] < boxes[:, 2]) & (py[..., None] >= boxes[:, 1])
              & (py[..., None] < boxes[:, 3]))
    assert (inside.sum(-1) == 1).all()


@pytest.mark.parametrize("grid", [2, 3])
def test_each_pseudo_box_pools_its_source_images_colour(grid):
    images = [_constant(k) for k in range(grid * grid)]
    mosaic = build_mosaic(images, [f"caption {k}" for k in range(grid * grid)], grid)
    assert mosaic.image.shape == (12 * grid, 12 * grid, 3)
    assert mosaic.captions == [f"caption {k}" for k in range(grid * grid)] and mosaic.sources == list(range(grid**2))
    for k, (x0, y0, x1, y1) in enumerate(mosaic.pixel_boxes().round().astype(int)):
        assert (mosaic.image[y0:y1, x0:x1] == images[k][0, 0]).all()
    # and through RoIAlign on the picture itself (a 3-channel "dense map"): the cell's colour exactly
    picture = torch.from_numpy(mosaic.image.astype(np.float32)).permute(2, 0, 1)
    pooled = region_features(picture, mosaic.pixel_boxes(), mosaic.image.shape[:2], normalize=False)
    assert torch.allclose(pooled, torch.tensor(np.array([im[0, 0] for im in images]), dtype=torch.float32))


def test_cells_are_resized_to_one_size():
    images = [_constant(0, 10), _constant(1, 20), _constant(2, 7), _constant(3, 16)]
    mosaic = build_mosaic(images, list("abcd"), 2, cell_size=16)
    assert mosaic.image.shape == (32, 32, 3)
    assert (mosaic.image[16:, :16] == images[2][0, 0]).all()


def test_clim_batch_split():
    plan, singles = split_batch(32)
    assert [(g, len(idx)) for g, idx in plan] == [(2, 4), (3, 9), (4, 16)] and singles == [29, 30, 31]
    plan, singles = split_batch(60, (2, 3))
    assert [g for g, _ in plan] == [2, 3, 2, 3, 2, 3, 2, 3] and singles == [52, 53, 54, 55, 56, 57, 58, 59]
    assert sorted(i for _, idx in plan for i in idx) + singles == list(range(60))
    assert split_batch(10) == ([], list(range(10)))


def test_build_mosaics_keeps_sources_and_captions():
    images = [_constant(k) for k in range(15)]
    mosaics, singles = build_mosaics(images, [str(k) for k in range(15)], grids=(2, 3))
    assert [m.grid for m in mosaics] == [2, 3] and singles == [13, 14]
    assert mosaics[1].sources == list(range(4, 13)) and mosaics[1].captions[0] == "4"
    assert (mosaics[1].image[:12, 12:24] == images[5][0, 0]).all()  # row 0, column 1 of the 3x3


def test_bad_mosaic_input():
    with pytest.raises(ValueError, match="needs 4 images, got 3"):
        build_mosaic([_constant(0)] * 3, ["a"] * 3, 2)
    with pytest.raises(ValueError, match="4 images but 3 captions"):
        build_mosaic([_constant(0)] * 4, ["a"] * 3, 2)
    with pytest.raises(ValueError, match="at least 1x1"):
        cell_boxes(0)


def test_mosaic_task_draws_mosaics_and_lists_cells(tmp_path):
    from workbench.core.plugins import PluginHost
    from workbench.core.registry import RegistryError
    from workbench.core.runner import Runner, RunRequest
    from workbench.core.runstore import RunState, RunStore

    host = PluginHost()
    try:
        host.registry.task("clim.mosaic")
    except RegistryError:
        host = PluginHost(extra={"clim": "wb_clim.plugin"})
    job, record = Runner(host=host).run(RunRequest(task="clim.mosaic", params={"batch_size": 15}, backend="cpu",
                                                   execution="inproc"))
    assert record.state == RunState.COMPLETED, record.error + record.traceback
    results = {r.name: r for r in RunStore.results(job.run_dir)}
    assert {"mosaic-0", "mosaic-1", "singles", "cells"} <= set(results)
    assert results["mosaic-1"].image.shape == (192, 192, 3) and len(results["mosaic-1"].boxes) == 9
    assert len(results["singles"].images) == 2 and len(results["cells"].rows) == 13
    assert "1 group(s) of 13 give 2 mosaic(s); 2 single scene(s)" in results["cells"].notes
    from workbench.render.export import export_result

    for result in results.values():
        assert export_result(result, tmp_path / "png")
    _, bad = Runner(host=host).run(RunRequest(task="clim.mosaic", params={"grids": [0]}, backend="cpu",
                                              execution="inproc"))
    assert bad.state == RunState.FAILED and "grids must be sizes from 1 to 8" in bad.error
