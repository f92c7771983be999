"""`workbench plugins` answers from its cached listing until something it depends on changes: a plugin's file,
the allow/deny configuration; the cached answer is the one a fresh load gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PLUGIN = '''
from workbench.api import Family, TaskSpec, VersionedParams, hookimpl


class Params(VersionedParams):
    """No parameters."""


@hookimpl
def workbench_register_tasks(registry):
    registry.add_task(TaskSpec(id="{task}", title="cache probe", family=Family.DATA, entry="{module}:run",
                               params=Params, backends=("cpu",)))
'''


def _plugins(env, *extra):
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "plugins", *extra], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _write(folder, task):
    (folder / "wbcache_probe.py").write_text(textwrap.dedent(PLUGIN.format(task=task, module="wbcache_probe")))


def test_cached_listing_matches_a_fresh_load_and_follows_changes(workbench_home, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    _write(code, "probe.first")
    env = dict(os.environ, WORKBENCH_HOME=str(workbench_home), WORKBENCH_EXTRA_PLUGINS="probe=wbcache_probe",
               PYTHONPATH=os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]))
    fresh = _plugins(env)
    assert "probe.first" in fresh
    assert (workbench_home / "cache" / "plugins" / "listing-text.json").is_file()
    assert _plugins(env) == fresh == _plugins(env, "--no-cache")
    _write(code, "probe.second")  # the plugin changed: the cache must not answer
    changed = _plugins(env)
    assert "probe.second" in changed and "probe.first" not in changed
    denied = _plugins({**env, "WORKBENCH_PLUGINS_DENY": "probe"})
    assert "probe.second" not in denied and denied == _plugins({**env, "WORKBENCH_PLUGINS_DENY": "probe"},
                                                                "--no-cache")
    assert _plugins(env, "--json") == _plugins(env, "--json", "--no-cache")


def test_a_distribution_installed_later_is_listed(workbench_home, tmp_path):
    """A hit reads no entry points: installing a distribution changes its site folder, which the key watches."""
    site = tmp_path / "site"
    site.mkdir()
    _write(site, "probe.installed")
    env = dict(os.environ, WORKBENCH_HOME=str(workbench_home),
               PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    before = _plugins(env)
    assert "probe.installed" not in before and _plugins(env) == before
    dist = site / "wbcache_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wbcache-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[workbench.plugins]\nprobe = wbcache_probe\n")
    after = _plugins(env)
    assert "probe.installed" in after and after == _plugins(env, "--no-cache")


def test_a_damaged_cache_is_a_miss(workbench_home):
    from workbench.core.assets import cache_dir
    from workbench.core.manifest_cache import _base_key, cached_listing

    path = cache_dir() / "plugins" / "listing-probe.json"
    path.parent.mkdir(parents=True)
    base = _base_key("probe")  # the same base: the stored folders would be reused, were they not damaged
    for damaged in ("not json", '["a list"]', json.dumps({"base": base, "folders": [1], "key": "y", "text": 3})):
        path.write_text(damaged)
        assert cached_listing(lambda: "built", "probe") == "built"
    assert cached_listing(lambda: "built again", "probe") == "built"  # stored: a hit now
