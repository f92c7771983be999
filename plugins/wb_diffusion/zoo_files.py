"""Publishing a diffusers folder as a zoo model: weights stored as float16 safetensors (a few MB each; they load
as float32), every other file copied as it is, sub-folders kept, and a card."""

from __future__ import annotations

import tempfile
from pathlib import Path

from workbench.api import ModelCard, RunContext

PLUGIN = "diffusion"


def half_copy(folder: Path, out: Path) -> dict[str, Path]:
    """``folder``'s files (relative name -> path) with every ``.safetensors`` rewritten as float16 under ``out``."""
    from safetensors.torch import load_file, save_file

    files: dict[str, Path] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".safetensors":
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in load_file(path).items()}
            save_file(tensors, target, metadata={"format": "pt"})
            path = target
        files[name] = path
    return files


def publish_folder(ctx: RunContext, model_id: str, folder: Path, *, weights: str = "", **card_fields) -> Path:
    """Publish the diffusers ``folder`` as zoo model ``model_id``; ``weights`` names its main weights file."""
    with tempfile.TemporaryDirectory(prefix="wb-half-") as tmp:
        files = half_copy(folder, Path(tmp))
        weights = weights or next(n for n in files if n.endswith(".safetensors"))
        card = ModelCard(id=model_id, plugin=PLUGIN, weights=weights, **card_fields)
        return ctx.publish_model(card, files)
