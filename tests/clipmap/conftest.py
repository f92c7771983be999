"""Fixtures of the CLIP heatmaps tests: randomly initialised tiny CLIPs built through the host CLIP service."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_clip():
    import torch

    from workbench.api import load_clip

    torch.manual_seed(0)
    return load_clip("wb-tiny-clip", weights="random")


@pytest.fixture(scope="module")
def scene():
    from wb_shapes.world import make_scene

    return make_scene(0, "test", 1, 64, 2, 3)


@pytest.fixture
def rgb():
    return (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
