"""Time from process start to the first painted main window with all plugins listed, and the idle window's
memory, next to Qt-only baselines (median of runs, each in a fresh process, offscreen).

What is timed: spawning ``python -c``, importing the main window, building it and the first paint of its task
browser, which lists every task and plugin (failed ones greyed) from the plugin listing cache. The plugin host,
the parameter form, the job queue and the run history are built right after that frame, so they are not in the
figure; a warm-up run fills the cache first (the first start after installing or changing a plugin builds the
listing from the loaded plugins, printed as "no listing cache").

Usage: python benchmarks/gui_startup.py [--repeats 5]

Prints, per measurement, the median wall time and its ratio to ``python -c "import PySide6.QtWidgets"``,
then the resident memory (VmRSS) of the idle window one second after the first frame, and which heavy
modules (torch, matplotlib, open_clip, open3d, sklearn) were imported by then (the goal: none).

Then one window runs a real job in a worker subprocess (``ood.posthoc`` on the digits world) and shows its
results: the window's memory before and after, and the heavy modules in the window's process (torch must stay in
the worker; matplotlib arrives with the result views). The script exits non-zero when torch was imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

_PAINT_PROBE = """
import json, sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication{extra_import}
app = QApplication([])
{build}
class FirstPaint(QObject):
    seen = False
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not self.seen:
            self.seen = True
            print("painted", flush=True)
            QTimer.singleShot(1000, report)
        return False
def rss_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0
def report():
    heavy = [m for m in ("torch", "matplotlib", "open_clip", "open3d", "sklearn") if m in sys.modules]
    print(json.dumps({{"rss_mib": rss_kib("VmRSS") / 1024, "heavy": heavy, "listed": listed()}}), flush=True)
    app.quit()
probe = FirstPaint()
target.installEventFilter(probe)
window.show()
app.exec()
"""

WORKBENCH = _PAINT_PROBE.format(
    extra_import="\nfrom workbench.gui.main_window import MainWindow",
    build="window = MainWindow()\ntarget = window.browser.viewport()\n"
          "def listed():\n    return len(window.browser.task_items) + len(window.browser.plugin_items)",
)
EMPTY_WINDOW = _PAINT_PROBE.format(
    extra_import=", QMainWindow, QTreeWidget",
    build="window = QMainWindow()\ntarget = QTreeWidget()\nwindow.setCentralWidget(target)\n"
          "def listed():\n    return 0",
)


WORKER_JOB = """
import json, sys, time, os
from PySide6.QtWidgets import QApplication
app = QApplication([])
from workbench.core.runner import RunRequest
from workbench.gui.main_window import MainWindow
def rss_mib():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
def spin(seconds, until=lambda: False):
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        app.processEvents()
        time.sleep(0.01)
window = MainWindow()
window.show()
spin(1.0)
idle = rss_mib()
request = RunRequest(task="ood.posthoc", execution="worker", params={"detectors": ["msp", "energy", "knn"]})
t0 = time.perf_counter()
entry = window.submit(request)
spin(600, lambda: entry.finished)
job_s = time.perf_counter() - t0
spin(1.0)
heavy = [m for m in ("torch", "onnxruntime", "open_clip", "open3d", "sklearn", "matplotlib") if m in sys.modules]
print(json.dumps({"idle_mib": idle, "after_mib": rss_mib(), "state": entry.state, "job_s": job_s,
                  "views": len(window.views), "heavy": heavy}), flush=True)
window.jobs.wait(5000)
os._exit(0)
"""


def worker_job() -> dict:
    """The window's memory around one worker job, and what the window's process imported."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    out = subprocess.run([sys.executable, "-c", WORKER_JOB], capture_output=True, text=True, env=env, timeout=900)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"the worker-job probe failed: {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def first_paint(code: str, **env_vars: str) -> tuple[float, dict]:
    """Seconds from spawning the process to its "painted" line, and its idle report."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), **env_vars)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    painted = None
    report: dict = {}
    for line in proc.stdout:
        if line.startswith("painted") and painted is None:
            painted = time.perf_counter() - t0
        elif line.startswith("{"):
            report = json.loads(line)
    proc.wait(timeout=60)
    if painted is None:
        raise RuntimeError("the window never painted")
    return painted, report


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def measure(quick: bool = False, repeats: int | None = None) -> dict[str, float]:
    """First-paint medians of the empty window and the workbench window, alternating, and their ratio."""
    repeats = repeats or (5 if quick else 7)
    runs: dict[str, list[tuple[float, dict]]] = {"empty": [], "workbench": []}
    first_paint(EMPTY_WINDOW)
    first_paint(WORKBENCH)  # fills the listing cache, as any earlier start did
    for _ in range(repeats):
        runs["empty"].append(first_paint(EMPTY_WINDOW))
        runs["workbench"].append(first_paint(WORKBENCH))
    with tempfile.TemporaryDirectory() as home:
        cold_s, _ = first_paint(WORKBENCH, WORKBENCH_HOME=home)
    empty_s = statistics.median(t for t, _ in runs["empty"])
    wb_s = statistics.median(t for t, _ in runs["workbench"])
    last = runs["workbench"][-1][1]
    return {"empty window s": empty_s, "workbench window s": wb_s, "first paint / empty window": wb_s / empty_s,
            "no listing cache / empty window": cold_s / empty_s,
            "workbench rss MiB": statistics.median(r["rss_mib"] for _, r in runs["workbench"]),
            "empty rss MiB": statistics.median(r["rss_mib"] for _, r in runs["empty"]),
            "listed": last["listed"], "heavy": last["heavy"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    qt_import = statistics.median(wall([sys.executable, "-c", "import PySide6.QtWidgets"])
                                  for _ in range(args.repeats))
    m = measure(repeats=args.repeats)
    empty_s, wb_s = m["empty window s"], m["workbench window s"]
    print(f"python -c 'import PySide6.QtWidgets'        {qt_import:6.3f} s  (ratio 1.00)")
    print(f"empty QMainWindow, first paint            {empty_s:6.3f} s  (ratio {empty_s / qt_import:.2f})")
    print(f"workbench main window, first paint        {wb_s:6.3f} s  (ratio {wb_s / qt_import:.2f}; "
          f"{wb_s / empty_s:.2f} x the empty window)")
    print(f"  the same without the listing cache (first start after a plugin change): "
          f"{m['no listing cache / empty window']:.2f} x the empty window")
    print(f"idle RSS 1 s after first paint: workbench {m['workbench rss MiB']:.0f} MiB, "
          f"empty Qt window {m['empty rss MiB']:.0f} MiB")
    print(f"entries listed in the task browser: {m['listed']}; heavy modules imported: {m['heavy'] or 'none'}")
    job = worker_job()
    print(f"one ood.posthoc job in a worker subprocess ({job['state']}, {job['job_s']:.1f} s, {job['views']} views "
          f"shown): window RSS {job['idle_mib']:.0f} MiB idle -> {job['after_mib']:.0f} MiB after "
          f"(ratio {job['after_mib'] / job['idle_mib']:.2f}); heavy modules in the window: {job['heavy'] or 'none'}")
    if "torch" in job["heavy"] or job["state"] != "completed":
        sys.exit("torch was imported into the GUI process, or the job did not complete")


if __name__ == "__main__":
    main()
