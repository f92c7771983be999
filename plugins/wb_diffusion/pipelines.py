"""Where a text-to-image pipeline comes from: one ``source`` string, the same for sampling and training.

* ``tiny-random`` / ``tiny-random-sdxl``: the offline random components (:mod:`wb_diffusion.tiny`);
* a zoo id (``tiny-shapes-sd``): the zoo's diffusers folder, found through its card;
* a diffusers pipeline folder (``model_index.json`` and one sub-folder per component), read offline;
* a single ``.safetensors`` / ``.ckpt`` checkpoint with ``config=`` a diffusers folder giving the configs (offline);
* a hub name (``org/model``) only when online.

``lora=`` adds a diffusers LoRA (a ``.safetensors`` file or its folder) checked against the UNet first, so a LoRA
made for another architecture (or a file that holds no LoRA, or NaN weights) is refused with the mismatching keys and
shapes named, instead of being dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from workbench.api import ModelCard, UserError, is_offline, zoo_card

BUILT_IN = ("tiny-random", "tiny-random-sdxl")
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")


def load_pipeline(source: str, device: str = "cpu", dtype: torch.dtype = torch.float32, *, config: str = "",
                  lora: str = ""):
    """The diffusers pipeline named by ``source`` (with ``lora`` loaded), on ``device``, progress bars off."""
    from wb_diffusion import tiny

    if source == "tiny-random":
        pipe = tiny.tiny_sd_pipeline()
    elif source == "tiny-random-sdxl":
        pipe = tiny.tiny_sdxl_pipeline()
    elif Path(source).is_dir():
        pipe = _from_folder(Path(source), dtype)
    elif Path(source).is_file():
        pipe = _from_single_file(Path(source), config, dtype)
    elif _diffusion_card(source) is not None:
        pipe = _from_folder(_diffusion_card(source).folder, dtype)
    elif source.count("/") == 1 and not Path(source).suffix:
        pipe = _from_hub(source, dtype)
    else:
        raise UserError(f"model={source!r}: expected one of {', '.join(BUILT_IN)}, a zoo model id, a diffusers "
                        "pipeline folder, a .safetensors checkpoint (with config=) or a hub name 'org/model'")
    if lora:
        load_lora(pipe, lora)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(device=device)
    return pipe if pipe.unet.dtype == dtype else pipe.to(dtype=dtype)


def is_sdxl(pipe) -> bool:
    """SDXL-style pipelines carry a second text encoder and the added text/time embedding."""
    return getattr(pipe, "text_encoder_2", None) is not None


def load_card(card: ModelCard, device: str = "cpu", **options):
    """Loader of zoo cards holding a diffusers pipeline folder."""
    return load_pipeline(str(card.folder), device=device, **options)


def load_vae(source: str):
    """An ``AutoencoderKL`` from a zoo id or a diffusers model folder (float32)."""
    from diffusers import AutoencoderKL

    folder = Path(source)
    if not folder.is_dir():
        card = _diffusion_card(source)
        if card is None:
            raise UserError(f"vae={source!r}: neither a folder nor a zoo model id")
        folder = card.folder
    if not (folder / "config.json").is_file():
        raise UserError(f"vae={source!r}: {folder} has no config.json (not a diffusers AutoencoderKL folder)")
    return AutoencoderKL.from_pretrained(folder, dtype=torch.float32, local_files_only=True)


def load_vae_card(card: ModelCard, device: str = "cpu"):
    """Loader of zoo cards holding an ``AutoencoderKL`` folder."""
    return load_vae(str(card.folder)).to(device)


def _diffusion_card(source: str) -> ModelCard | None:
    try:
        return zoo_card(source)
    except UserError:
        return None


def _components(folder: Path) -> dict[str, list]:
    index = folder / "model_index.json"
    if not index.is_file():
        raise UserError(f"model={folder}: not a diffusers pipeline folder (no model_index.json)")
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UserError(f"{index}: not valid JSON ({exc})") from None
    return {k: v for k, v in entries.items() if not k.startswith("_") and isinstance(v, list) and v[0] is not None}


def check_folder(folder: Path) -> dict[str, list]:
    """The components of a pipeline folder; a missing component folder is a UserError naming it."""
    components = _components(folder)
    missing = [name for name in components if not (folder / name).is_dir()]
    if missing:
        raise UserError(f"model={folder}: model_index.json lists {', '.join(missing)} but the folder has no "
                        f"{', '.join(m + '/' for m in missing)}")
    return components


def _from_folder(folder: Path, dtype: torch.dtype):
    from diffusers import DiffusionPipeline

    check_folder(folder)
    return DiffusionPipeline.from_pretrained(folder, local_files_only=True, dtype=dtype)


def _from_single_file(path: Path, config: str, dtype: torch.dtype):
    """A whole-pipeline checkpoint (original SD layout), or a UNet-only file whose other components come from
    ``config``'s folder."""
    import diffusers
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    if path.suffix not in SINGLE_FILE_SUFFIXES:
        raise UserError(f"model={path}: a single-file checkpoint must be {' or '.join(SINGLE_FILE_SUFFIXES)}")
    if not config:
        raise UserError(f"model={path}: a single checkpoint file needs config=<diffusers pipeline folder> (the "
                        "configs are never fetched from the hub)")
    folder = Path(config)
    if not folder.is_dir():
        card = _diffusion_card(config)
        if card is None:
            raise UserError(f"config={config!r}: neither a diffusers pipeline folder nor a zoo model id")
        folder = card.folder
    class_name = json.loads((folder / "model_index.json").read_text())["_class_name"] if (
        folder / "model_index.json").is_file() else ""
    pipeline_class = getattr(diffusers, class_name, None)
    if pipeline_class is None or not hasattr(pipeline_class, "from_single_file"):
        raise UserError(f"config={folder}: no model_index.json naming a pipeline that loads single files")
    check_folder(folder)
    try:
        try:
            return pipeline_class.from_single_file(str(path), config=str(folder), local_files_only=True,
                                                   dtype=dtype)
        except SingleFileComponentError:
            base = pipeline_class.from_pretrained(folder, local_files_only=True, dtype=dtype)
            given = {k: v for k, v in base.components.items() if k != "unet" and v is not None}
            return pipeline_class.from_single_file(str(path), config=str(folder), local_files_only=True,
                                                   dtype=dtype, **given)
    except (OSError, ValueError, KeyError, RuntimeError, SingleFileComponentError) as exc:
        raise UserError(f"model={path}: could not be read as a {class_name} checkpoint with configs from "
                        f"{folder} ({type(exc).__name__}: {exc})") from None


def _from_hub(name: str, dtype: torch.dtype):
    from diffusers import DiffusionPipeline

    if is_offline():
        raise UserError(f"model={name!r}: a hub name needs the network, and the workbench is offline "
                        "(WORKBENCH_OFFLINE / HF_HUB_OFFLINE); give a local folder")
    try:
        return DiffusionPipeline.from_pretrained(name, dtype=dtype)
    except OSError as exc:
        raise UserError(f"model={name!r}: not found locally or on the hub ({exc})") from None


DOWN_MARKERS = (".lora_A.", ".lora.down.", ".lora_linear_layer.down.", ".lora_down.")
UP_MARKERS = (".lora_B.", ".lora.up.", ".lora_linear_layer.up.", ".lora_up.")


def _base_layer(model, path: str):
    modules = dict(model.named_modules())
    return modules.get(path) or modules.get(path.removeprefix("text_model."))


def lora_mismatches(pipe, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """What in a diffusers-format LoRA state dict does not fit ``pipe``'s UNet/text encoders: NaN/inf tensors, no
    LoRA layers at all, unknown layers, and down (rank, in) / up (out, rank) shapes that disagree with the base
    layers' weights."""
    problems = [f"{key}: not finite" for key, tensor in state_dict.items()
                if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if not any(m in key for key in state_dict for m in DOWN_MARKERS + UP_MARKERS):
        problems.append(f"no LoRA layers (keys such as {', '.join(list(state_dict)[:3]) or 'none'})")
    for key, tensor in state_dict.items():
        marker = next((m for m in DOWN_MARKERS + UP_MARKERS if m in key), None)
        if marker is None or tensor.ndim < 2:
            continue
        owner, _, rest = key.partition(".")
        model = getattr(pipe, owner, None)
        base = _base_layer(model, rest.split(marker)[0]) if isinstance(model, torch.nn.Module) else None
        weight = getattr(base, "weight", None)
        if weight is None or weight.ndim < 2:
            problems.append(f"{key}: no such layer in the {owner}")
            continue
        fits = tensor.shape[1] == weight.shape[1] if marker in DOWN_MARKERS else tensor.shape[0] == weight.shape[0]
        if not fits:
            problems.append(f"{key}: shape {tuple(tensor.shape)} vs base layer {tuple(weight.shape)}")
    return problems


def load_lora(pipe, lora: str, adapter_name: str | None = None, param: str = "lora") -> None:
    """Load a diffusers LoRA file or folder into ``pipe`` (as ``adapter_name``, or diffusers' default name) after
    checking that every key fits; errors name the parameter ``param``."""
    path = Path(lora)
    if not path.exists():
        raise UserError(f"{param}={lora}: no such file or folder")
    try:
        state_dict, _ = pipe.lora_state_dict(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{param}={lora}: not a diffusers LoRA ({exc})") from None
    problems = lora_mismatches(pipe, state_dict)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more" if len(problems) > 5 else "")
        raise UserError(f"{param}={lora}: not a LoRA for {type(pipe).__name__} ({len(problems)} problem(s) in "
                        f"{len(state_dict)} tensors): {shown}")
    pipe.load_lora_weights(str(path), adapter_name=adapter_name)
