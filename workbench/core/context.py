"""What a running task sees: progress, cancellation, logging, seed, backend and its artifact folder."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path


class Cancelled(Exception):
    """Raised inside a task (at its next yield) when the user cancels the run."""


@dataclass(frozen=True)
class Progress:
    """Yielded by a task: ``fraction`` in [0, 1] (None when unknown) and a short message."""

    fraction: float | None
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class RunContext:
    """Handed to every task. ``device`` is a torch device string; ``engine`` is ``torch`` or ``onnx``."""

    run_dir: Path
    seed: int
    engine: str
    device: str
    logger: logging.Logger
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def backend(self) -> str:
        return f"{self.engine}-{'cuda' if self.device.startswith('cuda') else 'cpu'}"

    @property
    def artifacts(self) -> Path:
        path = self.run_dir / "artifacts"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """For long loops between yields: raise :class:`Cancelled` if the user asked to stop."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def log(self, message: str) -> None:
        self.logger.info(message)

    def onnx_providers(self) -> list[str]:
        """ONNX Runtime providers for this run's device, CUDA first when the run is on CUDA."""
        if self.device.startswith("cuda"):
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]
