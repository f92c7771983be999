"""``workbench info`` names the packages Qt's X11 platform plugin lacks (instead of a SIGABRT at start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

from workbench.gui.qt_platform import debian_package, missing_libraries, xcb_check

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f48)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxkbcommon-x11.so.0 => not found
"""


def test_missing_libraries_are_named_once_with_their_debian_packages():
    missing = missing_libraries(LDD)
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxkbcommon-x11.so.0"]
    assert [debian_package(m) for m in missing] == ["libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0"]


def test_workbench_info_reports_the_xcb_plugin():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "info", "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)["qt_xcb"]
    assert report == xcb_check()
    assert report["plugin"].endswith("libqxcb.so")
    assert report["note"] == "ok" or "apt-get install" in report["note"]
