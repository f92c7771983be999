"""An error panel: the message in plain words and a "Show traceback" toggle with the details."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget


class ErrorPanel(QWidget):
    """Used for failed jobs and for plugins that failed to load."""

    def __init__(self, title: str, message: str, traceback: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        heading = QLabel(f"<h3 style='color:#c0392b'>{title}</h3>")
        self.message = QLabel(message or "(no message)")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(self.message.textInteractionFlags().TextSelectableByMouse)
        self.toggle = QPushButton("Show traceback")
        self.toggle.setCheckable(True)
        self.details = QPlainTextEdit(traceback or "(no traceback was recorded)")
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.hide()
        self.toggle.toggled.connect(self._toggle)
        for label in (heading, self.message):  # long titles and paths wrap or clip, never widen the window
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(200)
        self.message.setToolTip(message[:2000])
        layout.addWidget(heading)
        layout.addWidget(self.message)
        layout.addWidget(self.toggle)
        layout.addWidget(self.details, 1)
        layout.addStretch(0)

    def _toggle(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle.setText("Hide traceback" if shown else "Show traceback")
