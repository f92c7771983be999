"""``workbench gui --screenshot DIR`` end to end: a real training run plus one PNG per result kind."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_screenshot_mode_writes_every_view(tmp_path):
    code = "import sys; from workbench.gui.app import main; sys.exit(main(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    names = {p.name for p in tmp_path.glob("*.png")}
    kinds = ("metrics", "scores", "image-grid", "heatmap", "token-scores", "regions", "curves", "registration")
    assert {"main-window.png", "main-window-empty.png"} | {f"view-{k}.png" for k in kinds} <= names
    assert all((tmp_path / n).stat().st_size > 5000 for n in names)
    from PySide6.QtGui import QImage

    window = QImage(str(tmp_path / "main-window.png"))
    assert (window.width(), window.height()) == (1280, 800)  # the scores tab is open and the window still fits
