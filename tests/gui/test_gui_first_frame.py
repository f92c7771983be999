"""The first frame comes from the cached plugin listing: painted before pydantic, numpy or any plugin is imported,
with every task listed and the broken plugin greyed; the host, the form and the jobs follow right after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FAKES = Path(__file__).parent / "fake_plugins"

PROBE = """
import json, os, sys
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
app = QApplication([])
from workbench.gui.main_window import MainWindow
w = MainWindow()
seen = {}
class Paint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not seen:
            seen['modules'] = [m for m in ('pydantic', 'numpy', 'pluggy', 'workbench.core.plugins', 'wb_gui_fakes')
                               if m in sys.modules]
            seen['tasks'] = sorted(w.browser.task_items)
            broken = w.browser.plugin_items['gui-broken']
            seen['broken'] = [broken.text(0), broken.foreground(0).color().name(), broken.toolTip(0)]
        return False
probe = Paint()
w.browser.viewport().installEventFilter(probe)
w.show()
while not w._started:
    app.processEvents()
if 'fake.every-field' in w.browser.task_items:
    w.browser.select_task('fake.every-field')
seen['form'] = w.form.spec.id if w.form.spec else None
seen['host_tasks'] = len(w.host.registry.tasks)
print(json.dumps(seen))
w.close()
"""


def _probe(env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_first_frame_from_the_cached_listing_then_the_host(workbench_home):
    env = dict(os.environ, WORKBENCH_HOME=str(workbench_home),
               WORKBENCH_EXTRA_PLUGINS="gui-fakes=wb_gui_fakes,gui-broken=wb_gui_broken",
               PYTHONPATH=os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")])))
    first = _probe(env)  # no cache yet: the listing is built from the host before the first frame
    assert (workbench_home / "cache" / "plugins" / "listing-browser.json").is_file()
    assert "pydantic" in first["modules"]
    cached = _probe(env)
    assert cached["modules"] == []  # painted from the cache: nothing heavy, no plugin imported yet
    assert cached["tasks"] == first["tasks"] and {"fake.raises", "digits.train-classifier"} <= set(cached["tasks"])
    name, colour, tip = cached["broken"]
    assert "failed" in name and colour == "#999999" and "not installed (on purpose)" in tip
    assert cached["form"] == "fake.every-field" and cached["host_tasks"] >= len(cached["tasks"])
    denied = _probe({**env, "WORKBENCH_PLUGINS_DENY": "gui-fakes"})  # the configuration changed: a fresh listing
    assert "fake.raises" not in denied["tasks"] and "digits.train-classifier" in denied["tasks"]
