"""The window as a daily tool: open runs and recipes, recent files, history back into the form, feedback after
Run, manageable tabs, the Help menu and what is remembered between starts (private settings per test)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from workbench.core import assets
from workbench.core.runner import RunRequest
from workbench.gui import settings as memory
from workbench.gui.error_panel import ErrorPanel
from workbench.gui.help_info import log_folder
from workbench.gui.main_window import MainWindow, RunTab


def _run_tabs(win) -> list[RunTab]:
    return [win.tabs.widget(i) for i in range(win.tabs.count()) if isinstance(win.tabs.widget(i), RunTab)]


def test_open_run_folder_reopens_its_results_and_lands_in_recent_files(window, qtbot, run_task):
    entry = run_task(window, "fake.live-curve", {"steps": 2})
    run_dir = entry.job.run_dir
    window.close_all_tabs()
    assert window.tabs.count() == 0 and not window.run_tabs
    window.open_path(run_dir)
    assert [t.run_id for t in _run_tabs(window)] == [entry.record.id]
    assert window.current_view().result.name == "live"
    window.tabs.setCurrentIndex(0)
    window.open_path(run_dir)  # already open: focused, not duplicated
    assert window.tabs.count() == 1 and window.tabs.currentWidget() is window.run_tabs[entry.record.id]
    assert memory.recent_files(window.settings)[0] == Path(run_dir).resolve()
    window.close_all_tabs()
    window._fill_recent()
    (action,) = [a for a in window.recent_menu.actions() if a.text().startswith(Path(run_dir).name)]
    action.trigger()
    assert [t.run_id for t in _run_tabs(window)] == [entry.record.id]


def test_opening_something_that_is_neither_a_run_nor_a_recipe_says_so(window, tmp_path):
    window.open_path(tmp_path)
    panel = window.tabs.currentWidget()
    assert isinstance(panel, ErrorPanel) and "cannot be opened" in window.tabs.tabText(window.tabs.currentIndex())
    assert "neither a run folder" in panel.message.text()


def test_history_loads_a_runs_parameters_into_the_form_and_reruns_it(window, qtbot, run_task):
    first = run_task(window, "fake.live-curve", {"steps": 3})
    window.browser.select_task("fake.every-field")
    history = window.history
    history.refresh()
    item = next(history.tree.topLevelItem(i) for i in range(history.tree.topLevelItemCount())
                if history.tree.topLevelItem(i).text(0) == first.record.id)
    history.tree.setCurrentItem(item)
    history._load_selected()
    assert window.form.spec.id == "fake.live-curve"
    assert window.form.values()["steps"] == 3
    before = set(window.jobs.entries)
    history._rerun_selected()
    (key,) = set(window.jobs.entries) - before
    again = window.jobs.entries[key]
    qtbot.waitUntil(lambda: again.finished, timeout=60000)
    assert again.state == "completed" and again.record.id != first.record.id
    assert again.record.params == first.record.params and again.record.seed == first.record.seed


def test_run_feedback_status_bar_queue_in_front_and_background_notice(window, qtbot, run_task, wait_finished):
    window._params_dock.raise_()
    entries = [window.submit(RunRequest(task="fake.long", params={"steps": 2})) for _ in range(12)]
    assert window._jobs_dock.isVisible() and not window._jobs_dock.visibleRegion().isEmpty()
    assert window.statusBar().currentMessage().startswith("queued")
    for entry in entries:
        wait_finished(entry, 60)
    qtbot.wait(50)
    scroll = window.queue.scroll.verticalScrollBar()
    assert scroll.maximum() > 0 and scroll.value() == scroll.maximum()  # the newest job scrolled into view
    assert "completed in" in window.statusBar().currentMessage()
    assert window.last_notice[0] == "status"  # a short job in the foreground: the status bar only
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=3000)
    window.long_job_s = 0.0
    entry = window.submit(RunRequest(task="fake.long", params={"steps": 2}))
    wait_finished(entry, 60)
    assert window.last_notice[0] in ("tray", "alert") and "completed" in window.last_notice[2]


def test_tab_list_close_all_and_shortcuts(window, qtbot, run_task):
    first = run_task(window, "fake.live-curve", {"steps": 1})
    second = run_task(window, "fake.live-curve", {"steps": 1})
    window._fill_tab_list()
    titles = [a.text() for a in window.tab_list.actions() if a.isCheckable()]
    assert titles[0] == "Welcome" and any(first.record.id in t for t in titles)
    listed = next(a for a in window.tab_list.actions() if first.record.id in a.text())
    listed.trigger()
    assert window.tabs.currentWidget() is window.run_tabs[first.record.id]
    assert second.record.id in window.run_tabs
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.tabs.count() == 0 and not window.run_tabs and not window.views


def test_help_menu_about_docs_and_log_folder(window):
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Help"]
    box = window.show_about()
    text = box.text()
    assert "Python" in text and "PySide6" in text and "gui-fakes" in text
    box.close()
    window.append_log("a line for the log file")
    log = log_folder() / "gui.log"  # what Help > Open log folder opens
    assert log.parent == assets.home() / "logs" and "a line for the log file" in log.read_text()
    docs = window.docs_url()
    assert docs.isEmpty() or Path(docs.toLocalFile()).name == "README.md"
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions()] == ["Documentation", "Open log folder", "About Alignment Workbench"]


def test_layout_and_last_parameters_per_task_survive_a_restart(qtbot, fake_plugins, run_task):
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(760, 560)
    first._left_dock.hide()
    run_task(first, "fake.live-curve", {"steps": 3})
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (760, 560)
    assert not second._left_dock.isVisible()
    second.browser.select_task("fake.live-curve")
    assert second.form.values()["steps"] == 3
    second.browser.select_task("fake.long")
    assert second.form.values()["steps"] == 2000  # never run: its defaults
    second.close()


def _answer_next_question(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    def answer():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.button(button).click()
        else:
            QTimer.singleShot(20, answer)

    QTimer.singleShot(20, answer)


def test_quitting_with_a_job_running_asks_first(window, qtbot, wait_finished):
    entry = window.submit(RunRequest(task="fake.long", params={"steps": 3000}))
    qtbot.waitUntil(lambda: entry.state == "running", timeout=30000)
    seen: list[str] = []
    _answer_next_question(QMessageBox.StandardButton.No, seen)
    window.close()
    assert window.isVisible() and not entry.finished and "still running" in seen[0]
    _answer_next_question(QMessageBox.StandardButton.Yes, seen)
    window.close()
    assert not window.isVisible()
    wait_finished(entry, 10)
    assert entry.state == "cancelled"
