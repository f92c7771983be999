"""Test support for plugin authors: a temporary plugin host with only the plugins a test names.

Registered as a pytest plugin (entry point ``pytest11``), so a plugin's own test suite gets the fixture
``workbench_host`` without importing anything::

    def test_my_task_runs(workbench_host):
        host = workbench_host(extra={"my-plugin": "my_plugin.plugin"}, allow=["digits"])
        job, record = host.runner().run(RunRequest(task="my.task", params={}))
        assert record.state.value == "completed"

The host never discovers other installed plugins unless ``allow`` names them; runs go to a temporary
``WORKBENCH_HOME``; worker subprocesses see the same plugins (through ``WORKBENCH_EXTRA_PLUGINS`` and
``WORKBENCH_PLUGINS_ALLOW``). The process-wide host is restored afterwards.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from workbench.core import plugins
from workbench.core.plugins import PluginHost


class TestHost(PluginHost):
    """A :class:`PluginHost` made for a test, with a runner on its own run store."""

    __test__ = False

    def runner(self):
        from workbench.core import assets
        from workbench.core.runner import Runner
        from workbench.core.runstore import RunStore

        return Runner(store=RunStore(assets.runs_dir()), host=self)


def make_host(extra: dict[str, str | ModuleType] | None = None, allow: Iterable[str] = ()) -> TestHost:
    """A host with the plugin modules in ``extra`` plus the installed plugins named in ``allow`` (only)."""
    return TestHost(extra=extra or {}, allow={*allow, *(extra or {})})


@pytest.fixture
def workbench_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """``workbench_host(extra={name: module}, allow=[installed plugin names], paths=[sys.path entries])``."""

    def build(extra: dict[str, str] | None = None, allow: Iterable[str] = (), paths: Iterable[Path] = ()
              ) -> TestHost:
        for path in paths:
            monkeypatch.syspath_prepend(str(path))
        added = [str(p) for p in paths]
        if added:
            monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*added, os.environ.get("PYTHONPATH", "")]))
        monkeypatch.setenv("WORKBENCH_EXTRA_PLUGINS", ",".join(f"{k}={v}" for k, v in (extra or {}).items()))
        monkeypatch.setenv("WORKBENCH_PLUGINS_ALLOW", ",".join([*allow, *(extra or {})]))
        host = make_host(extra, allow)
        plugins.reset_host(host)
        return host

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "workbench-home"))
    yield build
    plugins.reset_host()


def takes_ctrl_c() -> None:
    """``preexec_fn`` for a child a test interrupts with SIGINT: a test run started in the background (``cmd &``)
    has SIGINT ignored, children inherit that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
