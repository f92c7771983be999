"""The zoo models, their cards and the recipes: the side-by-side comparison the issue asks for."""

from __future__ import annotations

import pytest

from workbench.api import find_recipe, zoo_card, zoo_weights
from workbench.core.plugins import get_host
from workbench.core.recipes import load_recipe
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunStore

ZOO = ("ce-digits", "mixoe-digits", "palm-digits", "ascood-digits")


@pytest.mark.parametrize("name", ["zoo-ood-ce", "zoo-ood-mixoe", "zoo-ood-palm", "zoo-ood-ascood",
                                  "ood-compare-digits", "ood-compare-digits-retrain"])
def test_recipes_validate_against_the_task_parameters(name):
    recipe = load_recipe(find_recipe(name), get_host().registry)
    assert recipe.steps and all(step.task.startswith("ood.") for step in recipe.steps)


def test_zoo_recipes_share_backbone_budget_and_seed():
    registry = get_host().registry
    budgets = set()
    for method in ("ce", "mixoe", "palm", "ascood"):
        (step,) = load_recipe(find_recipe(f"zoo-ood-{method}"), registry).steps
        p = step.params
        budgets.add((p["width"], p["epochs"], p["batch_size"], p["lr"], step.seed))
    assert len(budgets) == 1


def test_every_trained_zoo_model_beats_the_cross_entropy_baseline_on_near_or_far(runner):
    for zoo_id in ZOO:
        card = zoo_card(zoo_id)
        assert zoo_weights(zoo_id).is_file() and card.plugin == "ood-train"
        assert find_recipe(card.recipe).is_file() and card.metrics["id_test_accuracy"] > 0.95
    job, record = runner.run(RunRequest(task="ood.evaluate", params={}, backend="torch", device="cpu",
                                        execution="inproc"))
    assert record.state.value == "completed", record.traceback
    rows = {r["model"]: r for r in next(r for r in RunStore.results(job.run_dir) if r.name == "comparison")
            .as_dicts()}
    base = rows["ce-digits"]
    for zoo_id in ZOO[1:]:
        row = rows[zoo_id]
        assert row["near AUROC"] > base["near AUROC"] or row["far AUROC"] > base["far AUROC"], (zoo_id, row, base)
