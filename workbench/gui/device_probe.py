"""What this machine has (torch CUDA devices, ONNX Runtime CUDA), probed in a subprocess.

Asking torch about CUDA imports torch (seconds, hundreds of MB); a child process answers instead, so
the window appears at once and stays light. Until the answer arrives only ``auto`` and ``cpu`` are offered.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QObject, QProcess, Signal

_PROBE = (
    "import json\n"
    "from workbench.core import devices\n"
    "print(json.dumps({'torch_cuda': list(devices.torch_cuda_devices()), 'onnx_cuda': devices.onnx_cuda_usable()}))\n"
)
_CACHE: dict | None = None


class MachineDevices(QObject):
    """Device choices for the form; ``changed`` fires when the probe has answered."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info: dict | None = _CACHE
        self.error = ""
        self._proc: QProcess | None = None

    def start(self) -> None:
        if self.info is not None or self._proc is not None:
            return
        self._proc = QProcess(self)
        self._proc.finished.connect(self._done)
        self._proc.start(sys.executable, ["-c", _PROBE])

    def _done(self, code: int, _status) -> None:
        global _CACHE
        out = bytes(self._proc.readAllStandardOutput()).decode(errors="replace").strip().splitlines()
        try:
            self.info = json.loads(out[-1]) if code == 0 and out else None
        except json.JSONDecodeError:
            self.info = None
        if self.info is None:
            self.error = bytes(self._proc.readAllStandardError()).decode(errors="replace")[-500:]
            self.info = {"torch_cuda": [], "onnx_cuda": False}
        _CACHE = self.info
        self._proc = None
        self.changed.emit()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.waitForFinished(1000)
            self._proc = None

    def cuda_usable(self, engine: str) -> bool:
        if self.info is None:
            return False
        return bool(self.info["torch_cuda"]) if engine == "torch" else bool(self.info["onnx_cuda"])

    def device_choices(self) -> list[str]:
        cuda = [f"cuda:{i}" for i in range(len(self.info["torch_cuda"]))] if self.info else []
        return ["auto", "cpu", *cuda]

    def summary(self) -> str:
        if self.info is None:
            return "checking which devices this machine has…"
        gpus = ", ".join(self.info["torch_cuda"]) or "none"
        return f"torch CUDA devices: {gpus}; ONNX Runtime CUDA: {'yes' if self.info['onnx_cuda'] else 'no'}"
