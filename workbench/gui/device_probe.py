"""What this machine has (torch CUDA devices, ONNX Runtime CUDA), probed in a subprocess.

Asking torch about CUDA imports torch (seconds, hundreds of MB); a child process answers instead, so
the window appears at once and stays light. Until the answer arrives only ``auto`` and ``cpu`` are offered.

The same answer serves the core: ``devices.set_probe(answer)`` makes ``workbench.core.devices`` ask the probe
when a job's placement is resolved (``auto`` device, CUDA requested), so running a job never imports torch or
ONNX Runtime into the window's process either - a worker subprocess job keeps them in the worker.
"""

from __future__ import annotations

import json
import sys
import threading

from PySide6.QtCore import QObject, QProcess, Signal

from workbench.core.devices import DeviceAnswer

_PROBE = (
    "import json\n"
    "from workbench.core import devices\n"
    "print(json.dumps({'torch_cuda': list(devices.torch_cuda_devices()), 'onnx_cuda': devices.onnx_cuda_usable()}))\n"
)
_CACHE: dict | None = None
_LOCK = threading.Lock()
_NOTHING = {"torch_cuda": [], "onnx_cuda": False}


def _parse(stdout: str) -> dict | None:
    lines = stdout.strip().splitlines()
    try:
        info = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    return info if isinstance(info, dict) and {"torch_cuda", "onnx_cuda"} <= set(info) else None


def probe(timeout: float = 300.0) -> dict:
    """The machine's devices, asked of a child process once per process (blocks; jobs call it off the GUI thread).

    A probe that fails answers "no CUDA", so a job asking for CUDA fails with the core's "no usable CUDA" error.
    """
    import subprocess  # here: the window's first frame does not need it

    global _CACHE
    with _LOCK:
        if _CACHE is None:
            try:
                out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout)
                _CACHE = _parse(out.stdout) if out.returncode == 0 else None
            except (OSError, subprocess.SubprocessError):
                _CACHE = None
            _CACHE = _CACHE or dict(_NOTHING)
        return _CACHE


def answer() -> DeviceAnswer:
    """The probe's answer in the core's terms: ``devices.set_probe(answer)`` makes job placement ask the probe."""
    info = probe()
    return DeviceAnswer(torch_cuda=tuple(info["torch_cuda"]), onnx_cuda=bool(info["onnx_cuda"]))


class MachineDevices(QObject):
    """Device choices for the form; ``changed`` fires when the probe has answered."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info: dict | None = _CACHE
        self.error = ""
        self._proc: QProcess | None = None

    def start(self) -> None:
        if self.info is None and _CACHE is not None:
            self.info = _CACHE
            self.changed.emit()
        if self.info is not None or self._proc is not None:
            return
        self._proc = QProcess(self)
        self._proc.finished.connect(self._done)
        self._proc.start(sys.executable, ["-c", _PROBE])

    def _done(self, code: int, _status) -> None:
        global _CACHE
        info = _parse(bytes(self._proc.readAllStandardOutput()).decode(errors="replace")) if code == 0 else None
        if info is None:
            self.error = bytes(self._proc.readAllStandardError()).decode(errors="replace")[-500:]
            info = dict(_NOTHING)
        with _LOCK:
            _CACHE = _CACHE or info  # a job may have probed synchronously meanwhile: one answer per process
            self.info = _CACHE
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
