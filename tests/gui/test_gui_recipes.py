"""File > Open recipe: the steps run through the core batch engine with one queue entry per step, and the batch
folder gets the same batch.json and report as ``workbench batch``."""

from __future__ import annotations

import json

RECIPE = """
name: gui-batch
steps:
  - name: scenes
    task: shapes.scenes
    params: {count: 2}
  - name: raises
    task: fake.raises
  - name: scenes again
    task: shapes.scenes
    params: {count: 1, split: novel}
"""


def test_open_recipe_runs_each_step_in_the_queue_and_writes_batch_json(window, qtbot, tmp_path):
    path = tmp_path / "gui-batch.yaml"
    path.write_text(RECIPE)
    batches = []
    window.jobs.batch_finished.connect(lambda batch, record, error: batches.append((batch, record, error)))
    batch = window.open_recipe(path, tmp_path / "batch", confirm=False)
    entries = [e for e in window.jobs.entries.values() if e.batch is batch]
    assert [e.title for e in entries] == ["gui-batch 1/3: scenes", "gui-batch 2/3: raises",
                                         "gui-batch 3/3: scenes again"]
    assert all(window.queue.rows[e.key] for e in entries)
    qtbot.waitUntil(lambda: bool(batches), timeout=120000)
    assert [e.state for e in entries] == ["completed", "failed", "completed"]
    assert all(e.finished for e in entries) and entries[0].record.task == "shapes.scenes"
    _, record, error = batches[0]
    assert not error and record.state == "failed"
    doc = json.loads((tmp_path / "batch" / "batch.json").read_text())
    assert [s["state"] for s in doc["steps"]] == ["completed", "failed", "completed"]
    assert (tmp_path / "batch" / "recipe.yaml").read_text() == RECIPE
    assert (tmp_path / "batch" / "report" / "index.html").is_file() and doc["report"]
    assert "recipe gui-batch: failed (2 completed, 1 failed)" in window.statusBar().currentMessage()


def test_a_recipe_that_cannot_run_opens_an_error_tab_not_a_crash(window, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - task: no.such.task\n")
    assert window.open_recipe(path, confirm=False) is None
    assert "recipe bad.yaml cannot run" in window.tabs.tabText(window.tabs.currentIndex())
