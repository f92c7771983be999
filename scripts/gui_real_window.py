"""The desktop window in a real X server, driven with the real mouse and keyboard; screenshots of what a user sees.

Starts Xvfb (1280x800, 24 bit) with the openbox window manager, opens the workbench window there on Qt's xcb
platform (not offscreen), and uses ``xdotool`` for every click and key: picks one task per family in the task
browser, types its parameters (each field clicked, its text selected and the value typed; a drop-down's entry typed
into its open list, a list's items ticked with Space; each checked), presses Run, opens each result sub-tab, steps
through a run's scenes, draws boxes on a picture for CLIM region scoring (Draw…, drags with the pointer), closes
tabs with Ctrl+W and quits with Ctrl+Q. Widget positions come from Qt (this process is the window's), the input
from X. Each step's screen is saved; ``--readme`` also refreshes the README's pictures in ``docs/screenshots/``
(the screen at the start, at the end, with the first view of each result kind in front, and the box dialog).

Needs: ``apt-get install -y xvfb openbox xdotool libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1``.
Usage: python scripts/gui_real_window.py OUT_DIR [--readme] [--families ood,tta,...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QPoint, Qt  # no platform yet: QApplication reads DISPLAY and QT_QPA_PLATFORM later

SCREEN = (1280, 800)
README_SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

# one task per family, with parameters that keep the run short on a laptop CPU
FAMILY_RUNS = {
    "ood": ("ood.posthoc", {"detectors": ["msp", "energy", "mahalanobis", "knn"], "top_k_images": 16}),
    "tta": ("tta.adapt", {"method": "lame", "corruption": "defocus_blur", "severity": 3, "order": "class-sorted",
                          "passes": 1}),
    "clip": ("clip.misalignment", {"demo_scenes": 1}),
    "clim": ("clim.region-score", {"n_scenes": 3}),
    "registration": ("registration.register", {"method": "vbreg", "outlier_ratio": 0.95, "n_points": 3000}),
    "data": ("shapes.scenes", {"count": 8}),
}


def start_x(display: str) -> list[subprocess.Popen]:
    """Xvfb on ``display`` and openbox on it; returns the processes to stop."""
    for tool in ("Xvfb", "openbox", "xdotool"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install -y xvfb openbox xdotool")
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{display.lstrip(':')}")
    for _ in range(100):
        if socket.exists():
            break
        time.sleep(0.05)
    else:
        xvfb.kill()
        sys.exit(f"Xvfb did not start on {display}")
    wm = subprocess.Popen(["openbox"], env=dict(os.environ, DISPLAY=display), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return [wm, xvfb]


def free_display() -> str:
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return f":{n}"
    sys.exit("no free X display number")


class Driver:
    """Real X input at Qt widgets' positions, with the Qt event loop kept running meanwhile."""

    def __init__(self, app, out: Path) -> None:
        self.app, self.out = app, out
        self.shots: list[Path] = []

    def spin(self, seconds: float, until=lambda: False) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            if until():
                return True
            time.sleep(0.02)
        return until()

    def xdotool(self, *args: str) -> None:
        proc = subprocess.Popen(["xdotool", *args])
        self.spin(10, lambda: proc.poll() is not None)

    def click(self, widget, point=None) -> None:
        """Move the X pointer onto ``widget`` (its centre, or ``point`` in its coordinates) and click."""
        local = point if point is not None else widget.rect().center()
        where = widget.mapToGlobal(local)
        self.xdotool("mousemove", "--sync", str(where.x()), str(where.y()), "click", "1")
        self.spin(0.3)

    def click_tab(self, bar, index: int) -> None:
        """Click tab ``index``, first clicking the bar's scroll arrows until the tab is in view."""
        from PySide6.QtWidgets import QToolButton

        for _ in range(60):
            arrows = {b.arrowType(): b for b in bar.findChildren(QToolButton) if b.isVisible()}
            right_edge = min((b.x() for b in arrows.values()), default=bar.width())
            centre = bar.tabRect(index).center()
            if 0 <= centre.x() < right_edge:
                break
            arrow = arrows.get(Qt.ArrowType.LeftArrow if centre.x() < 0 else Qt.ArrowType.RightArrow)
            if arrow is None:
                break
            self.click(arrow)
        self.click(bar, bar.tabRect(index).center())

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--clearmodifiers", *keys)
        self.spin(0.3)

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "40", text)
        self.spin(0.3)

    def fill(self, form, name: str, value) -> None:
        """Set field ``name`` as a user does: scroll to it, open its group if collapsed, then click and type
        (select all, type the value), pick a drop-down entry by typing its text, tick list items with Space."""
        editor = form.editors[name]
        box = form.groups.get(editor.plan.group)
        if box is not None and box.isCheckable() and not box.isChecked():
            self.click(box, QPoint(12, 10))  # the group title's check box
        if not form.shown(name):
            raise RuntimeError(f"field {name!r} is hidden (its show_when rule does not hold yet)")
        form.scroll.ensureWidgetVisible(editor)
        self.spin(0.2)
        if editor.items is not None:  # a checkable list: Space on each item whose tick must change
            wanted = set(value)
            for i in range(editor.items.count()):
                item = editor.items.item(i)
                if (item.checkState() == Qt.CheckState.Checked) != (item.data(Qt.ItemDataRole.UserRole) in wanted):
                    self.click(editor.items.viewport(), editor.items.visualItemRect(item).center())
                    self.key("space")
        elif editor.check is not None:
            if editor.check.isChecked() != bool(value):
                self.click(editor.check)
        elif editor.combo is not None:  # the open list selects the entry typed, Return takes it
            self.click(editor.combo)
            self.type(str(value))
            self.key("Return")
        else:
            self.click(editor.spin if editor.spin is not None else editor.line)
            self.key("ctrl+a")
            self.type(str(value))
            self.key("Tab")
        shown = editor.value()[1]
        if (list(shown) if editor.items is not None else str(shown)) != (list(value) if editor.items is not None
                                                                           else str(value)):
            raise RuntimeError(f"typing {value!r} into {name!r} left {shown!r}")

    def shot(self, name: str, widget=None) -> Path:
        """The X screen (what the user sees), or one widget as the X server drew it."""
        from PySide6.QtGui import QGuiApplication

        self.spin(0.4)
        path = self.out / f"{name}.png"
        pixmap = widget.grab() if widget is not None else QGuiApplication.primaryScreen().grabWindow(0)
        pixmap.save(str(path))
        self.shots.append(path)
        print(path, flush=True)
        return path


def choose_task(driver: Driver, window, task: str) -> None:
    browser = window.browser
    item = browser.task_items[task]
    browser.scrollToItem(item)
    driver.spin(0.2)
    driver.click(browser.viewport(), browser.visualItemRect(item).center())
    if window.form.spec is None or window.form.spec.id != task:
        raise RuntimeError(f"clicking {task} in the task browser did not choose it")


def press_run(driver: Driver, window, name: str):
    """Click Run, wait for the job; returns its entry."""
    task = window.form.spec.id
    before = set(window.jobs.entries)
    driver.click(window.form.run_button)
    new = set(window.jobs.entries) - before
    if len(new) != 1:
        raise RuntimeError(f"pressing Run for {task} queued {len(new)} jobs")
    entry = window.jobs.entries[new.pop()]
    driver.shot(f"{name}-2-queued")
    if not driver.spin(900, lambda: entry.finished):
        raise RuntimeError(f"{task} did not finish in 15 minutes")
    if entry.state != "completed":
        raise RuntimeError(f"{task} {entry.state}: {entry.error}")
    driver.spin(1.0)
    return entry


def run_family(driver: Driver, window, family: str, task: str, params: dict, kinds: dict) -> None:
    choose_task(driver, window, task)
    for name, value in params.items():
        driver.fill(window.form, name, value)
    driver.shot(f"{family}-1-form")
    entry = press_run(driver, window, family)
    tab = window.run_tabs[entry.record.id]
    bar = tab.tabBar()
    for index in range(tab.count()):
        driver.click_tab(bar, index)
        view = tab.widget(index)
        if tab.currentWidget() is not view:
            raise RuntimeError(f"clicking sub-tab {index} of {task} did not bring it to the front")
        kind = view.result.kind
        driver.shot(f"{family}-3-{index:02d}-{kind}")
        if kind not in kinds:
            driver.shot(f"view-{kind}", view)
            kinds[kind] = driver.shot(f"window-{kind}")
        step = getattr(view, "step_next", None)
        if step is not None and step.isEnabled() and index == 0:
            driver.click(step)
            driver.shot(f"{family}-4-next-scene")
            driver.click_tab(bar, index)


def draw_boxes(driver: Driver, window, home: Path) -> Path:
    """clim.region-score on boxes drawn with the mouse: a shapes scene saved as a picture, its path typed into
    'image', Draw… pressed, each object's box dragged on the picture with X's pointer, OK, Run; the task must
    score exactly the drawn boxes."""
    from PySide6.QtGui import QImage

    from workbench.api import load_sample

    scene = load_sample("shapes", split="test", n=1).scenes[0]
    height, width, _ = scene.image.shape
    picture = home / "scene.png"
    QImage(scene.image.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888).save(str(picture))
    choose_task(driver, window, "clim.region-score")
    driver.fill(window.form, "image", str(picture))
    editor = window.form.editors["boxes"]
    window.form.scroll.ensureWidgetVisible(editor)
    driver.click(editor.draw)
    if not driver.spin(5, lambda: editor.dialog is not None and editor.dialog.isVisible()):
        raise RuntimeError("Draw… did not open the box dialog")
    canvas = editor.dialog.canvas
    wanted = [tuple(obj.box) for obj in scene.objects]
    for box in wanted:
        rect = canvas.to_widget(box)
        start, end = canvas.mapToGlobal(rect.topLeft().toPoint()), canvas.mapToGlobal(rect.bottomRight().toPoint())
        middle = (start + end) / 2
        driver.xdotool("mousemove", "--sync", str(start.x()), str(start.y()), "mousedown", "1",
                       "mousemove", "--sync", str(middle.x()), str(middle.y()),
                       "mousemove", "--sync", str(end.x()), str(end.y()), "mouseup", "1")
        driver.spin(0.3)
    drawn = editor.dialog.boxes()
    tolerance = 1.0 / (canvas.to_widget((0, 0, 1, 1)).width()) + 0.5
    if len(drawn) != len(wanted) or any(abs(a - b) > tolerance for d, w in zip(drawn, wanted)
                                        for a, b in zip(d, w)):
        raise RuntimeError(f"dragging {wanted} drew {drawn}")
    dialog_shot = driver.shot("boxes-1-dialog")
    driver.click(editor.dialog.buttons.button(editor.dialog.buttons.StandardButton.Ok))
    if not editor.value()[1]:
        raise RuntimeError("OK in the box dialog did not fill the 'boxes' field")
    driver.shot("boxes-2-form")
    entry = press_run(driver, window, "boxes")
    tab = window.run_tabs[entry.record.id]
    views = [tab.widget(i) for i in range(tab.count())]
    table = next(v.result for v in views if v.result.name == "predictions")
    truth = [obj.label for obj in scene.objects]
    print(f"drawn boxes scored: {[(r[1], r[7]) for r in table.rows]}; truth {truth}", flush=True)
    if len(table.rows) != len(wanted):
        raise RuntimeError(f"{len(wanted)} boxes drawn, {len(table.rows)} scored")
    regions = next(i for i, v in enumerate(views) if v.result.kind == "regions")
    driver.click_tab(tab.tabBar(), regions)
    driver.shot("boxes-3-regions")
    return dialog_shot


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--readme", action="store_true", help="copy the pictures into docs/screenshots")
    parser.add_argument("--families", default=",".join(FAMILY_RUNS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    display = free_display()
    procs = start_x(display)
    home = Path(tempfile.mkdtemp(prefix="wb-real-window-"))
    os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", WORKBENCH_HOME=str(home))
    try:
        from PySide6.QtWidgets import QApplication

        app = QApplication(sys.argv[:1])
        app.setApplicationName("Alignment Workbench")
        from workbench.gui.main_window import MainWindow

        window = MainWindow()
        window.show()
        driver = Driver(app, args.out)
        driver.xdotool("search", "--sync", "--name", "Alignment Workbench")
        driver.spin(2.0, lambda: window.isActiveWindow())
        if window.width() > SCREEN[0] or window.height() > SCREEN[1]:
            raise RuntimeError(f"the window ({window.width()}x{window.height()}) is larger than the screen")
        window.resize(*SCREEN)
        driver.spin(1.0)
        start = driver.shot("main-window-empty")
        kinds: dict[str, Path] = {}
        for family in args.families.split(","):
            task, params = FAMILY_RUNS[family]
            if task not in window.host.registry.tasks:
                print(f"skipped {family}: task {task} is not installed", flush=True)
                continue
            run_family(driver, window, family, task, params, kinds)
        boxes_shot = None
        if "clim" in args.families.split(",") and "clim.region-score" in window.host.registry.tasks:
            boxes_shot = draw_boxes(driver, window, home)
        if window.width() > SCREEN[0] or window.height() > SCREEN[1]:
            raise RuntimeError(f"the window grew past the screen: {window.width()}x{window.height()}")
        scores = next((v for v in window.views.values() if v.result.kind == "scores"), None)
        if scores is not None:
            window.focus_view(scores)
        main_shot = driver.shot("main-window")
        count = window.tabs.count()
        driver.click(window.tabs)
        driver.key("ctrl+w")
        if window.tabs.count() != count - 1:
            raise RuntimeError("Ctrl+W did not close the front tab")
        driver.key("ctrl+q")
        driver.spin(2.0, lambda: not window.isVisible())
        if window.isVisible():
            raise RuntimeError("Ctrl+Q did not close the window")
        print(f"{len(driver.shots)} screenshots in {args.out}; result kinds seen: {', '.join(sorted(kinds))}")
        if args.readme:
            README_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(start, README_SHOTS / "main-window-empty.png")
            shutil.copy(main_shot, README_SHOTS / "main-window.png")
            for kind, path in kinds.items():  # the whole screen with that kind's view in front
                shutil.copy(path, README_SHOTS / f"view-{kind}.png")
            if boxes_shot is not None:
                shutil.copy(boxes_shot, README_SHOTS / "boxes-dialog.png")
            print(f"README pictures refreshed in {README_SHOTS}")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
