"""The registry: ids namespaced by plugin, collisions that reject only what collides, registrable families, the
plain ``cpu`` backend, declared dependencies, hook calls through pluggy, and everything of a failed plugin gone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import pytest
from pydantic import BaseModel

from workbench.api import FamilySpec, ResultKindSpec, TaskSpec, hookimpl
from workbench.core.errors import DeviceError, RegistryError
from workbench.core.plugins import PluginHost
from workbench.core.runner import Runner, RunRequest


class NoParams(BaseModel):
    """A task without parameters."""


def _plugin(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    return module


def _task(task_id: str, family: str = "ood-detection", **kw) -> TaskSpec:
    return TaskSpec(id=task_id, title=task_id, family=family, entry="wbtest_tasks:echo", params=NoParams, **kw)


def intruder():
    return _plugin("aaa_intruder", workbench_register_tasks=lambda registry: registry.add_task(_task("ood.posthoc")))


def test_a_colliding_task_id_keeps_both_plugins_and_the_plain_id_names_them():
    host = PluginHost(extra={"aaa-intruder": intruder()})
    assert host.plugins["aaa-intruder"].status == "loaded" and host.plugins["ood-baselines"].status == "loaded"
    with pytest.raises(RegistryError, match="'ood.posthoc' is registered by 'ood-baselines' and 'aaa-intruder'"):
        host.registry.task("ood.posthoc")
    assert host.registry.task("ood-baselines/ood.posthoc").plugin == "ood-baselines"
    assert host.registry.task("aaa-intruder/ood.posthoc").plugin == "aaa-intruder"
    assert "ood-baselines/ood.posthoc" in list(host.registry.tasks)
    with pytest.raises(RegistryError, match="registered by"):
        Runner(host=host).prepare(RunRequest(task="ood.posthoc"))


def test_the_demo_recipe_refuses_an_ambiguous_step_instead_of_running_the_intruder():
    from workbench.core.catalog import find_recipe
    from workbench.core.recipes import RecipeError, load_recipe

    host = PluginHost(extra={"aaa-intruder": intruder()})
    with pytest.raises(RecipeError, match="step 1 .*registered by 'ood-baselines' and 'aaa-intruder'"):
        load_recipe(find_recipe("demo"), host.registry)


def test_a_second_registration_by_the_same_plugin_and_a_taken_kind_are_rejected_not_fatal():
    def tasks(registry):
        registry.add_task(_task("twice.task"))
        registry.add_task(_task("twice.task"))
        registry.add_task(_task("other.task"))

    def kinds(registry):
        registry.add_result_kind(ResultKindSpec(kind="heatmap", cls="wbtest_tasks:Gauge"))

    host = PluginHost(extra={"twice": _plugin("twice", workbench_register_tasks=tasks,
                                              workbench_register_result_kinds=kinds)})
    info = host.plugins["twice"]
    assert info.status == "loaded" and info.tasks == ["other.task", "twice.task"]
    assert any("registered twice by 'twice'" in r for r in info.rejected)
    assert any("'heatmap' is already registered by 'host'" in r for r in info.rejected)
    assert host.registry.kind("heatmap").plugin == "host"


def test_families_are_registrable_and_an_unknown_family_rejects_only_that_task():
    def tasks(registry):
        registry.add_family(FamilySpec(id="robustness", title="Robustness audits", order=5))
        registry.add_task(_task("audit.run", family="robustness"))
        registry.add_task(_task("lost.task", family="no-such-family"))

    host = PluginHost(extra={"audits": _plugin("audits", workbench_register_tasks=tasks)})
    assert host.registry.task("audit.run").family == "robustness"
    assert host.registry.family_title("robustness") == "Robustness audits"
    assert "lost.task" not in host.registry.tasks
    assert any("unknown family 'no-such-family'" in r for r in host.plugins["audits"].rejected)


def test_a_numpy_task_declares_the_plain_cpu_backend():
    from workbench.core.devices import resolve

    host = PluginHost()
    spec = host.registry.task("shapes.scenes")
    assert spec.backends == ("cpu",)
    placement = resolve(spec)
    assert (placement.engine, placement.device, placement.backend) == ("cpu", "cpu", "cpu")
    with pytest.raises(DeviceError, match="does not run on torch"):
        resolve(spec, "torch")
    job, record = Runner(host=host).run(RunRequest(task="shapes.scenes", params={"count": 2}))
    assert record.state.value == "completed" and record.resolved_backend == "cpu"


def test_denying_a_plugin_makes_its_dependants_unavailable_with_the_reason(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS_DENY", "digits")
    host = PluginHost()
    reason = host.registry.unavailable["ood-baselines/ood.posthoc"]
    assert reason == "plugin 'digits' is disabled"
    for task in ("tta.adapt", "ood.evaluate", "ood.train-palm"):
        assert "digits" in host.registry.unavailable[host.registry.task(task).qualified_id]
    with pytest.raises(RegistryError, match=r"'ood.posthoc' \(ood-baselines\) cannot run: plugin 'digits'"):
        Runner(host=host).prepare(RunRequest(task="ood.posthoc"))
    assert "digits-cnn" not in host.registry.models and "digits" not in host.registry.samples
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "plugins"], capture_output=True, text=True,
                         env={**__import__("os").environ, "WORKBENCH_PLUGINS_DENY": "ood-baselines"})
    assert "[unavailable: plugin 'ood-baselines' is disabled]" in out.stdout


def test_a_failed_plugin_leaves_nothing_behind_result_kinds_included():
    def kinds(registry):
        registry.add_result_kind(ResultKindSpec(kind="doomed.kind", cls="wbtest_tasks:Gauge"))

    def tasks(registry):
        raise RuntimeError("broken after registering a kind")

    host = PluginHost(extra={"doomed": _plugin("doomed", workbench_register_result_kinds=kinds,
                                               workbench_register_tasks=tasks)})
    assert host.plugins["doomed"].status in ("failed",)
    assert host.registry.kind("doomed.kind") is None


def test_hooks_are_called_through_pluggy_and_traced_on_request(tmp_path):
    code = textwrap.dedent("""
        from workbench.core.plugins import PluginHost
        host = PluginHost()
        print('loaded', sorted(n for n, p in host.plugins.items() if p.status == 'loaded'))
    """)
    env = {**__import__("os").environ, "WORKBENCH_TRACE_PLUGINS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "workbench_register_tasks" in out.stderr and "[plugins]" in out.stderr
    assert "ood-baselines" in out.stdout
    calls = []
    host = PluginHost(discover=False)
    host.pm.add_hookcall_monitoring(lambda name, impls, kwargs: calls.append(name), lambda *a: None)
    host._load("late", _plugin("late", workbench_register_tasks=lambda registry: None), version="")
    assert "workbench_register_tasks" in calls
