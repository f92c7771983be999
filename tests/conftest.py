"""Test configuration: offscreen Qt, one torch thread, and a private run store per test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def workbench_home(tmp_path, monkeypatch):
    """Each test gets its own WORKBENCH_HOME so runs never touch the user's store."""
    home = tmp_path / "wb-home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


@pytest.fixture
def runner():
    from workbench.core.runner import Runner

    return Runner()
