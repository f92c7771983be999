"""Safe checkpoint loading: safetensors or ``torch.load(weights_only=True)``; pickles needing code are refused."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

from workbench.core.errors import CheckpointError


def load_state_dict(path: Path | str, *, key: str | None = None) -> dict[str, Any]:
    """Load tensors from ``path`` without ever executing code stored in it.

    ``.safetensors`` files load with safetensors; other files with ``torch.load(weights_only=True)``,
    which refuses pickles that reference arbitrary callables. A wrapper dict (``state_dict``, ``model``,
    or ``key``) is unwrapped.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return _finite(load_file(str(path)), path)
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused. Safe loading (weights_only=True) rejected it ({_unpickler_reason(exc)}): the file is "
            "damaged, not a torch checkpoint, or needs arbitrary Python objects to load, which could run code on "
            "this machine. Re-save it as a plain state dict or as safetensors from a trusted environment."
        ) from None
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from None
    for candidate in (key, "state_dict", "model", "model_state_dict"):
        if candidate and isinstance(obj, dict) and isinstance(obj.get(candidate), dict):
            obj = obj[candidate]
            break
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a state dict (names to tensors), got {type(obj).__name__}")
    return _finite(obj, path)


def _unpickler_reason(exc: Exception) -> str:
    """What torch's weights-only unpickler met (an operand, a global), without its boilerplate."""
    found = re.search(r"WeightsUnpickler error:\s*([^\n]+)", str(exc))
    if found:
        return found.group(1).split(". ")[0].strip()
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _finite(state: dict[str, Any], path: Path) -> dict[str, Any]:
    """Refuse weights holding NaN: a model loaded from them answers NaN everywhere, far from the cause."""
    import torch

    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and bool(torch.isnan(value).any()):
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN values; the checkpoint is damaged "
                                  "(a diverged training run saved it?)")
    return state


def load_into(model, path: Path | str, *, strict: bool = True) -> None:
    """Load a checkpoint into ``model``; a shape or key mismatch names the first offending key."""
    state = load_state_dict(path)
    own = model.state_dict()
    for name, tensor in state.items():
        if name in own and tuple(own[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: {name} has shape {tuple(tensor.shape)} but the model expects {tuple(own[name].shape)}"
            )
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if strict and (missing or unexpected):
        first = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise CheckpointError(f"{path}: keys do not match the model ({first}; {len(missing)} missing, "
                              f"{len(unexpected)} unexpected)")
    model.load_state_dict(state, strict=strict)


def save_safetensors(state: dict[str, Any], path: Path | str, metadata: dict[str, str] | None = None) -> None:
    """Save contiguous CPU copies of ``state`` as safetensors (atomically)."""
    from safetensors.torch import save

    from workbench.core.atomic import atomic_write_bytes

    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    atomic_write_bytes(Path(path), save(tensors, metadata=metadata))
