"""Display options belong to the renderers: the heatmap kinds' scale, opacity and colormap, same in report and GUI."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.results import Heatmap, HeatmapGrid
from workbench.render.export import figure_png
from workbench.render.figures import HeatmapOptions, _heat_scale, build_figure


@pytest.mark.parametrize("heat", [np.zeros((4, 4)), np.ones((4, 4)), np.random.default_rng(0).normal(size=(4, 4))])
@pytest.mark.parametrize("signed", [True, False])
def test_constant_and_random_maps_have_finite_colour_limits(heat, signed):
    for scale in ("auto", "signed", "magnitude"):
        values, lo, hi, cmap = _heat_scale(heat, signed, scale, "")
        assert np.isfinite([lo, hi]).all() and hi > lo and cmap


def test_scale_options_mean_what_they_say():
    heat = np.array([[-2.0, 1.0]])
    _, lo, hi, cmap = _heat_scale(heat, True, "auto", "")
    assert (lo, hi, cmap) == (-2.0, 2.0, "RdBu_r")
    values, lo, hi, _ = _heat_scale(heat, True, "magnitude", "viridis")
    assert values.tolist() == [[2.0, 1.0]] and (lo, hi) == (1.0, 2.0)
    assert _heat_scale(heat, False, "auto", "")[3] == "inferno"


def test_options_change_the_picture_not_the_result():
    image = np.full((16, 16, 3), 120, np.uint8)
    result = Heatmap(name="h", image=image, heat=np.linspace(-1, 1, 16).reshape(4, 4), signed=True)
    plain = figure_png(result)
    assert figure_png(result, opacity=0.9, colormap="viridis", scale="magnitude") != plain
    assert result.signed and figure_png(result) == plain
    assert HeatmapOptions().opacity == 0.5


def test_heatmap_grid_draws_one_panel_per_map():
    image = np.zeros((8, 8, 3), np.uint8)
    grid = HeatmapGrid(name="g", images=[image], heats=[np.eye(4), -np.eye(4), np.ones((4, 4))],
                       labels=["a", "b", "c"], signed=True, ncols=2)
    fig = build_figure(grid, opacity=0.3)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["a", "b", "c"]
