"""Fixtures of the CLIM tests: the zoo's tiny CLIP, a random tiny CLIP and a runner that has the CLIM tasks."""

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


@pytest.fixture
def clim_runner():
    from workbench.core.plugins import PluginHost
    from workbench.core.registry import RegistryError
    from workbench.core.runner import Runner

    host = PluginHost()
    try:
        host.registry.task("clim.evaluate")
    except RegistryError:
        host = PluginHost(extra={"clim": "wb_clim.plugin"})
    return Runner(host=host)
