"""What a running task sees: progress, cancellation, logging, seed, backend, its artifact folder, and the host's
services: the inference engine (torch or ONNX), the training lifecycle (checkpoint, resume) and publishing a
model into the user's zoo."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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

    def distributed(self):
        """Join the data-parallel group a launcher (torchrun, accelerate) describes; a plain run is a group of
        one. Trainers call it once and :meth:`~workbench.core.distributed.Distributed.leave` at the end."""
        from workbench.core.distributed import join

        return join(self.device)

    def log(self, message: str) -> None:
        self.logger.info(message)

    def onnx_providers(self) -> list[str]:
        """ONNX Runtime providers for this run's device, CUDA first when the run is on CUDA."""
        from workbench.core.inference import providers_for

        return providers_for(self.device)

    def inference(self, module, example_inputs: tuple, *, engine: str | None = None, **options: Any):
        """``module`` on this run's engine (or ``engine``): torch on its device, or ONNX Runtime on a cached,
        parity-checked export. Returns an :class:`~workbench.core.inference.InferenceSession`; options as
        :func:`~workbench.core.inference.inference_session` (input/output names, batch sizes, onnx_file)."""
        from workbench.core.inference import inference_session

        engine = engine or ("onnx" if self.engine == "onnx" else "torch")
        return inference_session(module, example_inputs, engine=engine, device=self.device, log_fn=self.log,
                                 **options)

    @property
    def checkpoint_path(self) -> Path:
        """Where this run's resumable checkpoint lives (``artifacts/checkpoint.pt``)."""
        from workbench.core.training import CHECKPOINT

        return self.artifacts / CHECKPOINT

    def save_checkpoint(self, step: int, model, optimizer=None, scheduler=None, *,
                        signature: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
        """Atomically write the run's checkpoint with optimizer, scheduler and RNG state (rank 0 of a
        distributed run; the other ranks hold the same weights and write nothing)."""
        from workbench.core.distributed import rank
        from workbench.core.training import save_checkpoint

        if rank() != 0:
            return self.checkpoint_path

        return save_checkpoint(self.checkpoint_path, step=step, model=model, optimizer=optimizer,
                               scheduler=scheduler, signature=signature, extra=extra)

    def resume(self, ref: str, model, optimizer=None, scheduler=None, *,
               signature: dict[str, Any] | None = None):
        """Continue from ``ref`` (a run folder or a checkpoint): restores the states, returns the step done."""
        from workbench.core.training import load_checkpoint

        state = load_checkpoint(ref, model=model, optimizer=optimizer, scheduler=scheduler, signature=signature)
        self.log(f"resumed from {state.path} at step {state.step}")
        return state

    def start_or_resume(self, ref: str, model, optimizer=None, scheduler=None, *,
                        signature: dict[str, Any] | None = None):
        """:meth:`resume` from ``ref``, or a fresh :class:`~workbench.core.training.TrainingState` (step 0, no
        history) when ``ref`` is empty: the one way a trainer starts."""
        from workbench.core.training import TrainingState

        if not ref:
            return TrainingState()
        return self.resume(ref, model, optimizer, scheduler, signature=signature)

    def publish_model(self, card, files: dict[str, Path]) -> Path:
        """Put a trained model and its :class:`~workbench.core.specs.ModelCard` into the user's zoo; the
        previous version of that id is kept, never overwritten. Rank 0 of a distributed run publishes alone."""
        from workbench.core.distributed import rank
        from workbench.core.training import publish_model

        if rank() != 0:
            from workbench.core.assets import user_zoo

            return user_zoo() / card.id

        folder = publish_model(card, files)
        self.log(f"model {card.id!r} published to {folder}")
        return folder
