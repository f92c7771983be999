"""Fixtures of the CLIM tests: the zoo's tiny CLIP, a random tiny CLIP and shapes scenes."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def zoo_clip():
    from workbench.api import load_clip

    return load_clip("tiny-clip")


@pytest.fixture(scope="session")
def random_clip():
    import torch

    from workbench.api import load_clip

    torch.manual_seed(0)
    return load_clip("wb-tiny-clip", weights="random")
