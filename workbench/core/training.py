"""One training lifecycle for every trainer: atomic checkpoints with optimizer, scheduler and RNG state, resume
from a run folder or a checkpoint (one parameter name, ``resume``, everywhere), and publishing a model card.

A checkpoint carries a ``signature`` (what must match to continue: method, architecture, planned steps, ...);
resuming with other parameters is a clear error naming the key. Checkpoints load with
``torch.load(weights_only=True)``: they hold tensors, numbers, strings and containers only. torch is imported
inside the functions.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core import assets
from workbench.core.atomic import atomic_replace, user_mode
from workbench.core.errors import CheckpointError
from workbench.core.specs import ModelCard

CHECKPOINT = "checkpoint.pt"
FORMAT = "workbench-checkpoint"
VERSION = 1


@dataclass
class TrainingState:
    """Where a resumed run continues: the step done, and what the trainer stored beside the weights."""

    step: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def history(self, name: str = "losses") -> list[list[float]]:
        """Rows the trainer stored under ``name`` (a float tensor of logged steps), empty for a fresh run."""
        return [list(row) for row in self.extra[name].tolist()] if name in self.extra else []


def rng_state() -> dict[str, Any]:
    import torch

    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(float, np_state[2:])]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value: Any) -> Any:
    """``random.setstate`` wants tuples where a round trip through torch.save may give lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(path: Path, *, step: int, model, optimizer=None, scheduler=None,
                    signature: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write a resumable checkpoint atomically (a reader sees the previous checkpoint or this one)."""
    import torch

    payload = {
        "format": FORMAT, "version": VERSION, "step": int(step), "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else {},
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "rng": rng_state(), "signature": dict(signature or {}), "extra": dict(extra or {}),
    }
    return atomic_replace(path, lambda tmp: torch.save(payload, str(tmp)))


def resolve_resume(ref: str | Path) -> Path:
    """``resume`` names a checkpoint file or a run folder (its ``artifacts/checkpoint.pt``)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        for candidate in (path / "artifacts" / CHECKPOINT, path / CHECKPOINT):
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"resume: {path} holds no {CHECKPOINT} (nor artifacts/{CHECKPOINT})")
    if not path.is_file():
        raise CheckpointError(f"resume: {path} does not exist (give a checkpoint.pt or the run folder)")
    return path


def load_checkpoint(ref: str | Path, *, model, optimizer=None, scheduler=None,
                    signature: dict[str, Any] | None = None, restore_rng: bool = True) -> TrainingState:
    """Restore ``model``/``optimizer``/``scheduler`` (and the RNG state) from ``ref``; the signature must match."""
    import torch

    path = resolve_resume(ref)
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"resume: {path} is not a readable training checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"resume: {path} is not a workbench training checkpoint")
    if int(ckpt.get("version", 0)) > VERSION:
        raise CheckpointError(f"resume: {path} was written by a newer workbench (checkpoint version "
                              f"{ckpt['version']}); upgrade the workbench")
    stored = ckpt.get("signature", {})
    for key, value in (signature or {}).items():
        if stored.get(key) != value:
            raise CheckpointError(f"resume: {path} was written with {key}={stored.get(key)!r}, these parameters "
                                  f"give {key}={value!r}; keep them the same to continue")
    try:
        model.load_state_dict(ckpt["model"])
        if optimizer is not None and ckpt["optimizer"]:
            optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt["scheduler"]:
            scheduler.load_state_dict(ckpt["scheduler"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"resume: {path} does not fit this model/optimizer ({str(exc).splitlines()[0]})") \
            from None
    if restore_rng and ckpt.get("rng"):
        set_rng_state(ckpt["rng"])
    return TrainingState(step=int(ckpt["step"]), extra=ckpt.get("extra", {}), path=path)


def publish_model(card: ModelCard, files: dict[str, Path], zoo: Path | None = None) -> Path:
    """Put ``files`` (name in the card's folder, sub-folders allowed -> source path) and the card into the user's
    zoo.

    The new version is assembled beside the zoo and swapped in; a model already there is kept under
    ``<zoo>/.versions/<id>-<time>`` rather than overwritten. Shipped models are never touched.
    """
    root = zoo or assets.user_zoo()
    root.mkdir(parents=True, exist_ok=True)
    target = root / card.id
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{card.id}.", suffix=".partial"))
    try:
        os.chmod(staging, user_mode(directory=True))
        for name, source in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / name)
        (staging / "card.json").write_text(card.to_json(), encoding="utf-8")
        if target.exists():
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            versions = root / ".versions"
            versions.mkdir(exist_ok=True)
            target.replace(versions / f"{card.id}-{stamp}")
        staging.replace(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
