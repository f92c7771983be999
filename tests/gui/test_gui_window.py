"""The real main window, offscreen: browse, fill forms, run a real task, faults, cancel, history."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from workbench.cli import run_batch
from workbench.core.runner import RunRequest
from workbench.core.runstore import RunStore
from workbench.gui.error_panel import ErrorPanel
from workbench.gui.main_window import RunTab


def _tab_widgets(win):
    """Every tab's widget, with each run tab followed by its result views."""
    out = []
    for i in range(win.tabs.count()):
        widget = win.tabs.widget(i)
        out.append(widget)
        if isinstance(widget, RunTab):
            out.extend(widget.widget(j) for j in range(widget.count()))
    return out


def test_first_frame_imports_no_torch_or_matplotlib():
    code = (
        "import os, sys, json\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from workbench.gui.main_window import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'open_clip', 'open3d', 'sklearn') if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'tasks': len(w.browser.task_items)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["tasks"] >= 1


def test_browser_groups_by_family_and_greys_failed_plugins(window, qtbot):
    tree = window.browser
    sections = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert "Data and models" in sections and "Plugins" in sections
    assert "fake.raises" in tree.task_items and "digits.train-classifier" in tree.task_items
    broken = tree.plugin_items["gui-broken"]
    assert "failed" in broken.text(0)
    assert broken.foreground(0).color().name() == "#999999"
    assert "not installed (on purpose)" in broken.toolTip(0)
    tree.setCurrentItem(broken)
    panel = window.tabs.currentWidget()
    assert isinstance(panel, ErrorPanel)
    assert "not installed (on purpose)" in panel.message.text()
    panel.toggle.click()
    assert panel.details.isVisible() and "ImportError" in panel.details.toPlainText()


def test_form_is_generated_and_invalid_values_block_run(window, qtbot, run_task):
    window.browser.select_task("fake.every-field")
    form = window.form
    assert form.editors["mode"].combo.count() == 2
    assert [form.editors["colour"].combo.itemText(i) for i in range(2)] == ["red", "blue"]
    assert form.editors["verbose"].check is not None
    assert form.editors["data_dir"].plan.kind == "path-dir"
    assert form.editors["weights_path"].plan.kind == "path-file"
    assert form.run_button.isEnabled()
    count = form.editors["count"].spin
    assert (count.minimum(), count.maximum(), count.value()) == (1, 10, 3)  # a spin box within the field's range
    form.editors["count"].set_value("11")
    assert count.value() == 10 and form.run_button.isEnabled()
    form.editors["rate"].set_value("1.5")
    assert not form.run_button.isEnabled()
    assert not form.editors["rate"].error.isHidden()
    assert "less than 1" in form.editors["rate"].error.text()
    assert "rate" in form.problem.text() and "rate" in form.run_button.toolTip()
    form.run_button.click()
    assert form.request() is None
    assert window.jobs.entries == {}
    form.editors["count"].set_value("4")
    form.editors["rate"].set_value("abc")
    assert not form.run_button.isEnabled() and not form.editors["rate"].error.isHidden()
    form.editors["rate"].set_value("0.25")
    form.editors["mode"].set_value("exact")
    form.editors["sizes"].set_value([3, 4])
    assert form.run_button.isEnabled()
    request = form.request()
    assert request.params["count"] == 4 and request.params["mode"] == "exact" and request.params["sizes"] == [3, 4]
    entry = run_task(window, "fake.every-field", {"count": 4, "mode": "exact"})
    assert entry.state == "completed"
    assert RunStore.load(entry.job.run_dir).params["count"] == 4


def test_backend_and_device_choices_come_from_the_task_and_machine(window, qtbot):
    window.browser.select_task("digits.train-classifier")
    backends = [window.form.backend.itemText(i) for i in range(window.form.backend.count())]
    assert backends[0] == "auto" and "torch-cpu" in backends and "onnx-cpu" not in backends
    qtbot.waitUntil(lambda: window.machine.info is not None, timeout=60000)
    devices = [window.form.device.itemText(i) for i in range(window.form.device.count())]
    assert devices[:2] == ["auto", "cpu"]
    assert len(devices) == 2 + len(window.machine.info["torch_cuda"])
    cuda_index = backends.index("torch-cuda")
    usable = window.form.backend.model().item(cuda_index).isEnabled()
    assert usable == bool(window.machine.info["torch_cuda"])


def test_real_task_runs_shows_results_and_exports_a_replayable_recipe(window, qtbot, tmp_path, run_task):
    entry = run_task(window, "digits.train-classifier", {"epochs": 1, "width": 8}, timeout_s=180)
    assert entry.state == "completed", entry.error
    kinds = {w.result.kind: w for w in _tab_widgets(window) if hasattr(w, "result")}
    assert {"curves", "metrics"} <= set(kinds)
    table = kinds["metrics"]
    assert [table.model.rows[i][0] for i in range(2)] == ["ID train", "ID test"]
    table.copy_csv()
    csv_text = QApplication.clipboard().text()
    assert csv_text.splitlines()[0] == "split,accuracy"
    png = kinds["curves"].save_png(tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert kinds["curves"].canvas.figure.axes[0].get_xlabel() == "epoch"
    assert window.jobs.entries[entry.key].message == "completed"
    assert window.queue.rows[entry.key].progress.value() == 1000

    history = window.history
    ids = [history.tree.topLevelItem(i).text(0) for i in range(history.tree.topLevelItemCount())]
    assert entry.record.id in ids
    recipe_path = history.export_recipe(tmp_path / "recipe.yaml", history.session_records())
    recipe = yaml.safe_load(recipe_path.read_text())
    (step,) = recipe["steps"]
    assert step["task"] == "digits.train-classifier" and step["params"]["epochs"] == 1
    code, _ = run_batch(recipe_path, tmp_path / "batch", keep_going=False, shard_spec=None, report=False)
    assert code == 0
    ((replay_dir, replay),) = RunStore(tmp_path / "batch" / "runs").list()
    assert replay.state.value == "completed" and replay.recipe_step == step["name"]
    original = {r.name: r for r in RunStore.results(entry.job.run_dir)}
    again = {r.name: r for r in RunStore.results(replay_dir)}
    assert original["accuracy"].rows == again["accuracy"].rows


def test_task_that_raises_shows_error_panel_and_app_lives(window, qtbot, run_task):
    entry = run_task(window, "fake.raises")
    assert entry.state == "failed"
    panel = window.tabs.currentWidget()
    assert isinstance(panel, ErrorPanel)
    assert "the fake task failed on purpose" in panel.message.text()
    assert not panel.details.isVisible()
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    assert panel.details.isVisible()
    assert "ValueError" in panel.details.toPlainText() and "wb_gui_fakes" in panel.details.toPlainText()
    again = run_task(window, "fake.every-field")
    assert again.state == "completed"


def test_worker_that_aborts_marks_job_failed_and_app_lives(window, qtbot, run_task):
    entry = run_task(window, "fake.aborts", timeout_s=60)
    assert entry.state == "failed"
    assert "worker process died" in entry.error
    assert RunStore.load(entry.job.run_dir).state.value == "failed"
    assert any(isinstance(w, ErrorPanel) and "worker process died" in w.message.text() for w in _tab_widgets(window))
    assert window.isVisible()
    again = run_task(window, "fake.every-field")
    assert again.state == "completed"


def _cancel_while_running(window, qtbot, task_id: str, wait_finished) -> None:
    window.browser.select_task(task_id)
    window.form.set_values({"steps": 3000})
    window.form.run_button.click()
    entry = next(iter(window.jobs.entries.values()))
    qtbot.waitUntil(lambda: entry.state == "running" and (entry.fraction or 0) > 0, timeout=60000)
    t0 = time.monotonic()
    qtbot.mouseClick(window.queue.rows[entry.key].cancel, Qt.MouseButton.LeftButton)
    wait_finished(entry, timeout_s=5)
    stopped_after = time.monotonic() - t0
    assert entry.state == "cancelled"
    assert stopped_after < 1.0
    assert RunStore.load(entry.job.run_dir).state.value == "cancelled"
    assert not window.queue.rows[entry.key].cancel.isEnabled()


def test_cancel_in_process_task_stops_within_a_second(window, qtbot, wait_finished):
    _cancel_while_running(window, qtbot, "fake.long", wait_finished)


def test_cancel_worker_task_stops_within_a_second(window, qtbot, wait_finished):
    _cancel_while_running(window, qtbot, "fake.long-worker", wait_finished)


def test_several_jobs_queue_and_a_queued_job_can_be_cancelled(window, qtbot, wait_finished):
    first = window.submit(RunRequest(task="fake.long", params={"steps": 40}))
    second = window.submit(RunRequest(task="fake.long", params={"steps": 40}))
    third = window.submit(RunRequest(task="fake.long", params={"steps": 40}))
    qtbot.waitUntil(lambda: first.state == "running", timeout=30000)
    assert second.state == "queued" and third.state == "queued"
    window.jobs.cancel(third.key)
    for entry in (first, second, third):
        wait_finished(entry, 30)
    assert (first.state, second.state, third.state) == ("completed", "completed", "cancelled")
    assert third.job is None


def test_curves_update_live_in_one_tab_and_reopen_from_history(window, qtbot, run_task):
    shown = []
    window.result_shown.connect(lambda run_id, result: shown.append(result.series["decay"].shape[1]))
    entry = run_task(window, "fake.live-curve", {"steps": 4})
    assert shown == [1, 2, 3, 4]
    views = [w for w in _tab_widgets(window) if getattr(w, "result", None) is not None and w.result.name == "live"]
    assert len(views) == 1
    line = views[0].canvas.figure.axes[0].lines[0]
    assert len(line.get_xdata()) == 4
    window.tabs.tabCloseRequested.emit(window.tabs.indexOf(window.run_tabs[entry.record.id]))
    assert entry.record.id not in window.run_tabs
    item = window.history.tree.topLevelItem(0)
    assert item.text(0) == entry.record.id
    window.history.tree.setCurrentItem(item)
    window.history._open_selected()
    reopened = window.current_view()
    assert reopened.result.name == "live" and reopened.result.series["decay"].shape == (2, 4)


def test_dropped_paths_fill_the_form_and_run_folders_reopen(window, qtbot, tmp_path, run_task):
    window.browser.select_task("fake.every-field")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    window.drop_path(tmp_path)
    window.drop_path(weights)
    assert window.form.editors["data_dir"].line.text() == str(tmp_path)
    assert window.form.editors["weights_path"].line.text() == str(weights)
    entry = run_task(window, "fake.live-curve", {"steps": 2})
    count = window.tabs.count()
    window.tabs.removeTab(count - 1)
    window.drop_path(entry.job.run_dir)
    assert window.tabs.count() == count


def test_sample_world_opens_a_preview(window, qtbot):
    tree = window.browser
    section = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                   if tree.topLevelItem(i).text(0).startswith("Sample data"))
    digits = next(section.child(i) for i in range(section.childCount()) if section.child(i).text(0) == "Digits world")
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        tree.itemActivated.emit(digits, 0)
    qtbot.waitUntil(lambda: any(getattr(w, "result", None) is not None and w.result.kind == "image-grid"
                                for w in _tab_widgets(window)), timeout=60000)
    grid = next(w for w in _tab_widgets(window) if getattr(w, "result", None) is not None
                and w.result.kind == "image-grid")
    assert len(grid.result.images) >= 8
    assert grid.model.rowCount() == len(grid.result.images)


def test_choosing_a_sample_model_or_plugin_clears_the_previous_tasks_form(window, qtbot):
    tree, form = window.browser, window.form

    def child(section_prefix: str):
        section = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                       if tree.topLevelItem(i).text(0).startswith(section_prefix))
        return section.child(0)

    for item in (child("Sample data"), child("Model zoo"), tree.plugin_items["gui-fakes"],
                 tree.plugin_items["gui-broken"]):
        window.browser.select_task("fake.every-field")
        assert form.spec is not None and form.editors and form.run_button.isEnabled()
        tree.setCurrentItem(item)
        assert form.spec is None, item.text(0)
        assert form.editors == {} and form.fields.rowCount() == 0
        assert not form.run_button.isEnabled()
        assert form.request() is None
        assert item.text(0).split(" (")[0] in form.title.text()
        form.run_button.click()
        assert window.jobs.entries == {}


def test_worker_jobs_leave_torch_and_onnxruntime_out_of_the_gui_process(fake_plugins):
    """Resolving an ``auto`` device for a task that could use CUDA asks the device probe's subprocess."""
    code = (
        "import os, sys, json, time\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from workbench.gui.main_window import MainWindow\n"
        "from workbench.core.runner import RunRequest\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "states = []\n"
        "for backend in ('auto', 'onnx', 'torch-cpu'):\n"
        "    e = w.submit(RunRequest(task='fake.gpu-worker', params={'steps': 2}, backend=backend,\n"
        "                            execution='worker'))\n"
        "    end = time.monotonic() + 120\n"
        "    while not e.finished and time.monotonic() < end:\n"
        "        app.processEvents(); time.sleep(0.02)\n"
        "    states.append([e.state, e.record.resolved_backend if e.record else e.error])\n"
        "heavy = [m for m in ('torch', 'onnxruntime', 'onnx') if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'states': states}))\n"
        "w.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert [s[0] for s in report["states"]] == ["completed"] * 3, report
    assert report["states"][1][1].startswith("onnx-")
    assert report["heavy"] == []


def test_one_tab_per_run_with_its_results_as_sub_tabs(window, qtbot, run_task):
    first = run_task(window, "fake.live-curve", {"steps": 2})
    second = run_task(window, "fake.live-curve", {"steps": 2})
    tabs = {rid: window.run_tabs[rid] for rid in (first.record.id, second.record.id)}
    for run_id, tab in tabs.items():
        text = window.tabs.tabText(window.tabs.indexOf(tab))
        assert run_id in text and "Fake live curve" in text
        assert tab.count() == 1 and tab.widget(0).result.name == "live"
    assert window.tabs.currentWidget() is tabs[second.record.id]
    count = window.tabs.count()
    # reopening a run that is open brings its tab to the front instead of opening it again
    window.open_run(first.job.run_dir)
    assert window.tabs.count() == count and window.tabs.currentWidget() is tabs[first.record.id]
    # Ctrl+W closes the tab in front
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.count() == count - 1 and first.record.id not in window.run_tabs
    assert all(run_id != first.record.id for run_id, _ in window.views)
    window.open_run(first.job.run_dir)
    assert window.tabs.count() == count and window.current_view().result.name == "live"


def test_device_probe_answers_the_core_while_a_window_is_open(qtbot, fake_plugins):
    from workbench.core import devices
    from workbench.gui import device_probe
    from workbench.gui.main_window import MainWindow

    before = list(devices._PROBES)
    win = MainWindow()
    qtbot.addWidget(win)
    assert [*before, device_probe.answer] == devices._PROBES
    assert devices.torch_cuda_devices() == tuple(device_probe.probe()["torch_cuda"])
    assert isinstance(devices.onnx_cuda_usable(), bool)
    win.close()
    assert before == devices._PROBES


def test_a_registered_probe_answers_the_core_device_questions():
    from workbench.core import devices

    devices.set_probe(lambda: devices.DeviceAnswer(torch_cuda=("Probe GPU",), onnx_cuda=True))
    try:
        assert devices.torch_cuda_devices() == ("Probe GPU",) and devices.onnx_cuda_usable()
        assert devices.cuda_available("torch") and devices.cuda_available("onnx")
    finally:
        devices.set_probe(None)
    assert devices.torch_cuda_devices() == devices._local_torch_cuda_devices()


def test_an_unavailable_task_shows_why_and_offers_no_run(qtbot, fake_plugins, monkeypatch):
    """A task whose required plugin is disabled is greyed in the browser; choosing it says why, with Run off."""
    from workbench.core.plugins import reset_host
    from workbench.gui.main_window import MainWindow

    monkeypatch.setenv("WORKBENCH_PLUGINS_DENY", "digits")
    reset_host()
    win = MainWindow()
    qtbot.addWidget(win)
    item = win.browser.task_items["ood.posthoc"]
    assert item.foreground(0).color().name() == "#999999" and "unavailable" in item.toolTip(0)
    win.browser.select_task("ood.posthoc")
    assert win.form.spec is None and not win.form.run_button.isEnabled()
    assert "cannot run: plugin 'digits' is disabled" in win.form.title.text()
