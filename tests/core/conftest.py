"""Fixtures loading the test plugins into the real plugin host (and into worker subprocesses via env)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FAKE = Path(__file__).parent / "fake_plugins"


@pytest.fixture
def test_plugins(monkeypatch):
    """The real host with the test plugin added; worker subprocesses see it through env and PYTHONPATH."""
    from workbench.core import plugins

    monkeypatch.syspath_prepend(str(FAKE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("WORKBENCH_EXTRA_PLUGINS", "wbtest=wbtest_tasks")
    plugins.reset_host()
    yield plugins.get_host()
    plugins.reset_host()
