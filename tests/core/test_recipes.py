"""Recipe validation names the step and the key; parsing is yaml.safe_load; GUI-exported recipes round-trip."""

from __future__ import annotations

import pytest

from workbench.core.recipes import RecipeError, parse_recipe, recipe_yaml, shard
from workbench.core.runner import RunRequest


def parse(text, host):
    return parse_recipe(text, "r.yaml", host.registry)


@pytest.mark.parametrize("text, message", [
    ("steps:\n  - name: a\n    task: nope.task\n", "step 1 (a): unknown task 'nope.task'"),
    ("steps:\n  - name: a\n    task: test.echo\n    params: {stepz: 2}\n", "step 1 (a): unknown parameter(s) stepz"),
    ("steps:\n  - task: test.echo\n    params: {steps: 0}\n", "step 1 (#1): steps: Input should be greater"),
    ("steps:\n  - task: test.echo\n    colour: red\n", "unknown key(s) ['colour']"),
    ("steps:\n  - task: test.echo\n    device: cuda\n", "CUDA was requested"),
    ("steps: []\n", "non-empty 'steps' list"),
    ("steps: [\n", "not valid YAML"),
    ("steps:\n  - !!python/object/apply:os.system ['echo pwned']\n", "not valid YAML"),
])
def test_recipe_errors(test_plugins, text, message):
    with pytest.raises(RecipeError) as info:
        parse(text, test_plugins)
    assert message in str(info.value)
    assert "r.yaml" in str(info.value)


def test_recipe_round_trip(test_plugins):
    requests = [RunRequest(task="test.echo", params={"steps": 2}, seed=5, recipe_step="one"),
                RunRequest(task="test.echo", backend="torch")]
    recipe = parse(recipe_yaml("x", requests), test_plugins)
    assert [s.seed for s in recipe.steps] == [5, 0]
    assert recipe.steps[0].params == {"steps": 2} and recipe.steps[1].backend == "torch"
    assert recipe.name == "x"


def test_shard_partitions_steps():
    steps = [RunRequest(task=f"t{i}") for i in range(7)]
    parts = [shard(steps, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(s.task for p in parts for s in p) == sorted(s.task for s in steps)
    with pytest.raises(RecipeError):
        shard(steps, "4/3")
