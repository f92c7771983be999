"""``workbench gui [--screenshot DIR]``: open the main window, or render it and every result view to PNGs."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(screenshot_dir: str | None = None) -> int:
    """Run the desktop app (returns Qt's exit code); with ``screenshot_dir``, render PNGs offscreen and exit 0."""
    if screenshot_dir is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Alignment Workbench")
    from workbench.gui.main_window import MainWindow

    window = MainWindow()
    if screenshot_dir is not None:
        from workbench.gui.screenshots import take_screenshots

        written = take_screenshots(window, Path(screenshot_dir))
        for path in written:
            print(path)
        window.close()
        return 0
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
