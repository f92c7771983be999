"""The CLIP loading service: one call gives an open_clip model, its tokenizer and its preprocessing.

Where the weights come from:

* ``load_clip("tiny-clip")``: a zoo model by id (its card's folder is an open_clip folder; any plugin can ship
  one, e.g. the shapes plugin's tiny CLIP); ``weights=`` a file of the same architecture, or ``"random"``;
* ``load_clip("ViT-B-32", weights="/path/w.safetensors")``: a local weights file for a named architecture;
* ``load_clip("local-dir:/folder")``: an open_clip folder (``open_clip_config.json`` + weights);
* ``load_clip("ViT-B-32", weights="openai")``: a hub tag, only when online;
* ``load_clip("ViT-B-32", weights="random")``: random initialisation (smoke tests, architecture checks).

torch and open_clip are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.checkpoints import CheckpointError
from workbench.core.specs import ModelCard

log = logging.getLogger(__name__)

TINY_ARCHITECTURE = "wb-tiny-clip"
CARD_LOADER = "workbench.clip.loading:load_card"
_CONFIG_DIR = Path(__file__).with_name("model_configs")
_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".npz")
_registered = False


class ClipLoadError(CheckpointError):
    """The CLIP could not be loaded: missing file, weights that do not fit, or a hub tag while offline."""


class CaptionTruncatedWarning(UserWarning):
    """A caption had more BPE tokens than the text context and was cut (its EOT token kept)."""


def register_model_configs() -> None:
    """Make the workbench's open_clip model configs (``wb-tiny-clip``) known to open_clip, once."""
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(_CONFIG_DIR)
        _registered = True


def is_offline() -> bool:
    """True when the user said so: ``WORKBENCH_OFFLINE`` or ``HF_HUB_OFFLINE`` set to a true value."""
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes") for k in ("WORKBENCH_OFFLINE", "HF_HUB_OFFLINE"))


@dataclass
class LoadedClip:
    """An open_clip ``CLIP`` with its tokenizer and image normalisation, in eval mode.

    ``architecture`` is the open_clip model name, zoo id or ``local-dir:`` folder; ``source`` says where the
    weights came from; ``config_dir`` is the open_clip folder whose config built the model, when there is one.
    All methods accept strings/arrays and do tokenising and preprocessing themselves.
    """

    model: Any
    tokenizer: Any
    architecture: str
    source: str
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: str = "cpu"
    config_dir: Path | None = None

    @property
    def context_length(self) -> int:
        return int(self.model.positional_embedding.shape[0])

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_projection.shape[-1])

    # --- text -------------------------------------------------------------------------------------------
    def tokenize(self, texts: str | list[str]):
        """``[B, context]`` int64 tokens: ``SOT, BPE..., EOT, 0...``.

        An empty caption is refused (it has nothing to score); a caption longer than the context is cut
        to fit, keeping EOT last, with a :class:`CaptionTruncatedWarning` naming it.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise ValueError("no captions given")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"caption {i} is empty: give at least one word")
            n = len(self.tokenizer.encode(text)) + 2
            if n > self.context_length:
                warnings.warn(
                    f"caption {i} has {n} tokens (with SOT/EOT), more than the text context of "
                    f"{self.context_length}; it was truncated to its first {self.context_length - 2} BPE tokens: "
                    f"{text[:60]!r}...", CaptionTruncatedWarning, stacklevel=2)
        return self.tokenizer(texts, context_length=self.context_length).to(self.device)

    def token_strings(self, text: str) -> list[str]:
        """The BPE pieces of ``text`` as strings (``</w>`` marks a word end), without SOT/EOT, after truncation."""
        ids = self.tokenizer.encode(text)[: self.context_length - 2]
        return [self.tokenizer.decoder[i] for i in ids]

    def _tokens(self, texts):
        import torch

        if isinstance(texts, torch.Tensor):
            return texts.to(self.device)
        return self.tokenize(texts)

    def encode_text(self, texts, normalize: bool = True):
        """Pooled text embeddings ``[B, D]`` of captions (strings) or of a token tensor."""
        from workbench.clip.towers import encode_text_fast

        return encode_text_fast(self.model, self._tokens(texts), normalize=normalize)

    def text_states(self, texts):
        """Per-token text states (:class:`workbench.clip.towers.TextStates`): hidden, projected, EOT index."""
        from workbench.clip.towers import text_states

        return text_states(self.model, self._tokens(texts))

    def record_text_attention(self):
        """Context manager yielding a list that fills with each text layer's attention ``[B, H, L, L]``."""
        from workbench.clip.towers import record_attention

        return record_attention(self.model.transformer)

    # --- images -----------------------------------------------------------------------------------------
    def preprocess(self, images):
        """RGB ``HxWx3`` array(s) (or a list) to a normalised ``[B, 3, S, S]`` float tensor through the model's
        own open_clip inference transform: ``image_transform_v2`` of ``model.visual.preprocess_cfg``, the
        ``preprocess_val`` that ``open_clip.create_model_and_transforms`` returns (by default: PIL bicubic
        resize of the shorter side with antialiasing, centre crop, to tensor, normalise). Arrays that are not
        uint8 are read as 0..255 and rounded. A float tensor of that shape is passed through unchanged.
        """
        import torch
        from open_clip.transform import PreprocessCfg, image_transform_v2
        from PIL import Image

        if isinstance(images, torch.Tensor):
            return images.to(self.device)
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        cfg = dict(getattr(self.model.visual, "preprocess_cfg", None) or {})
        cfg = {"size": self.image_size, "mean": self.mean, "std": self.std, **cfg}
        transform = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
        out = []
        for i, image in enumerate(images):
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"image {i}: expected an RGB array HxWx3, got shape {image.shape}")
            if image.dtype != np.uint8:
                image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
            out.append(transform(Image.fromarray(image, mode="RGB")))
        return torch.stack(out).to(self.device)

    def encode_image(self, images, normalize: bool = True):
        """Image embeddings ``[B, D]``."""
        return self.model.encode_image(self.preprocess(images), normalize=normalize)

    def image_tokens(self, images):
        """``(pooled, patches)``: image embeddings ``[B, D]`` and per-patch joint-space tokens ``[B, N, D]``."""
        from workbench.clip.towers import image_tokens

        return image_tokens(self.model, self.preprocess(images))

    def dense_pixels(self, images, size: int | None = None):
        """The preprocessed ``[B, 3, h*ph, w*pw]`` input of :meth:`dense_features` (whole image, shorter side
        ``size``); see :func:`workbench.clip.dense.dense_inputs`."""
        from workbench.clip.dense import dense_inputs

        return dense_inputs(images, self.model, self.mean, self.std, size=size, device=self.device)

    def dense_features(self, images, size: int | None = None, normalize: bool = True):
        """Dense joint-space map ``[B, D, h, w]`` of the whole image(s) (value path in the last block, MaskCLIP /
        CLIM style); ``size`` is the shorter side in pixels (default: the model's). See :mod:`workbench.clip.dense`
        and its ``region_features`` for boxes."""
        from workbench.clip.dense import dense_features

        return dense_features(self.model, self.dense_pixels(images, size), normalize=normalize)

    @staticmethod
    def region_features(dense, boxes, image_size, normalize: bool = True):
        """RoIAlign region embeddings of pixel boxes (in an image of ``image_size = (h, w)``) from a dense map;
        see :func:`workbench.clip.dense.region_features`."""
        from workbench.clip.dense import region_features

        return region_features(dense, boxes, image_size, normalize=normalize)

    @property
    def patch_grid(self) -> tuple[int, int]:
        return tuple(int(g) for g in self.model.visual.grid_size)

    def record_image_attention(self):
        """Context manager yielding a list that fills with each vision layer's attention ``[B, H, N+1, N+1]``."""
        from workbench.clip.towers import record_attention

        return record_attention(self.model.visual.transformer)

    # --- scoring and export -----------------------------------------------------------------------------
    def similarity(self, images, texts):
        """Cosine similarities ``[n_images, n_texts]``."""
        return self.encode_image(images) @ self.encode_text(texts).T

    def export_onnx(self, folder: Path | str, check_batch_sizes: tuple[int, ...] = (1, 2, 5),
                    exporter: str = "dynamo", names: tuple[str, str] = ("image_encoder.onnx", "text_encoder.onnx"),
                    ) -> dict[str, Any]:
        """Export the image and text encoders to ``folder`` with a parity check; see :mod:`workbench.clip.onnx`."""
        from workbench.clip.onnx import export_clip_onnx

        return export_clip_onnx(self, Path(folder), check_batch_sizes, exporter=exporter, names=names)

    def encoder_sessions(self, inference, onnx_dir: Path | None = None):
        """``(image, text)`` sessions on a run's engine (``ctx.inference``); see :mod:`workbench.clip.onnx`."""
        from workbench.clip.onnx import encoder_sessions

        return encoder_sessions(self, inference, onnx_dir)

    def export_dense_onnx(self, path: Path | str, pixel_size: tuple[int, int] | None = None):
        """Export the dense encoder to an ONNX file (dynamic batch, parity-checked); see
        :func:`workbench.clip.onnx.export_dense_onnx`."""
        from workbench.clip.onnx import export_dense_onnx

        return export_dense_onnx(self, Path(path), pixel_size)

    def dense_session(self, inference, pixel_size: tuple[int, int], onnx_file: Path | None = None):
        """The dense encoder of ``pixel_size = (H, W)`` pixels on a run's engine (``ctx.inference``): torch or
        ONNX Runtime (dynamic batch, parity-checked); see :func:`workbench.clip.onnx.dense_session`."""
        from workbench.clip.onnx import dense_session

        return dense_session(self, inference, pixel_size, onnx_file)


def _first_mismatch(model, state: dict[str, Any]) -> str | None:
    own = model.state_dict()
    for name, tensor in own.items():
        if name not in state:
            return f"{name!r} is missing from the file"
        if tuple(state[name].shape) != tuple(tensor.shape):
            return f"{name!r} has shape {tuple(state[name].shape)} in the file but {tuple(tensor.shape)} in the model"
    for name in state:
        if name not in own:
            return f"{name!r} is in the file but not in the model"
    return None


def _load_weights_file(model, architecture: str, path: Path) -> None:
    from workbench.core.checkpoints import load_state_dict

    state = load_state_dict(path)
    if "logit_scale" in state and state["logit_scale"].ndim != model.logit_scale.ndim:
        state["logit_scale"] = state["logit_scale"].reshape(model.logit_scale.shape)
    problem = _first_mismatch(model, state)
    if problem is None:
        model.load_state_dict(state, strict=True)
        return
    from open_clip.factory import load_checkpoint

    try:  # third-party layouts (OpenAI, timm) that open_clip knows how to convert
        load_checkpoint(model, str(path), strict=True)
    except Exception:
        raise ClipLoadError(f"{path}: these weights do not fit the architecture {architecture!r}: first mismatching "
                            f"key {problem}. Name the architecture the weights were trained with.") from None


def _preprocess_cfg(model) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    return tuple(cfg.get("mean", OPENAI_DATASET_MEAN)), tuple(cfg.get("std", OPENAI_DATASET_STD))


def _clip_card(model: str) -> ModelCard | None:
    """The zoo card ``model`` names when it is a CLIP card (an open_clip folder), else None."""
    from workbench.core.plugins import get_host

    card = get_host().registry.models.find(model)
    if card is not None and card.loader != CARD_LOADER:
        raise ClipLoadError(f"zoo model {model!r} ({card.plugin}) is not a CLIP: its loader is {card.loader!r}")
    return card


def load_card(card: ModelCard, weights: str | Path | None = None, device: str = "cpu") -> LoadedClip:
    """The loader of CLIP zoo cards: the card's folder is an open_clip folder (config + weights).

    ``weights`` loads another weights file into the card's architecture; ``"random"`` initialises it randomly.
    """
    import open_clip

    folder = card.folder
    if weights is None:
        if not card.weights_path.is_file():
            raise ClipLoadError(f"{card.weights_path}: the zoo model {card.id!r} has no weights here; regenerate "
                                f"them with `workbench batch {card.recipe}`")
        return _finish(open_clip.create_model(f"local-dir:{folder}", device=device), card.id, f"zoo:{folder}",
                       device, folder)
    if str(weights) == "random":
        net = _create_random(f"local-dir:{folder}")
        return _finish(net.to(device), card.id, "random", device, folder)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ClipLoadError(f"{path}: no such weights file")
    net = _create_random(f"local-dir:{folder}")
    _load_weights_file(net, f"{card.id} (local-dir:{folder})", path)
    return _finish(net.to(device), card.id, str(path), device, folder)


def _create_random(name: str):
    """A randomly initialised open_clip model (quietly: open_clip warns "initialized randomly")."""
    import open_clip

    logging.disable(logging.WARNING)
    try:
        return open_clip.create_model(name, device="cpu")
    finally:
        logging.disable(logging.NOTSET)


def load_clip(model: str, weights: str | Path | None = None, device: str = "cpu") -> LoadedClip:
    """Load a CLIP by zoo id, open_clip model name or folder; see the module docstring for the weight sources.

    A bare architecture name needs ``weights`` (a file, a hub tag or ``"random"``): nothing is downloaded
    unless asked for. Raises :class:`ClipLoadError` with a message that says what to give instead.
    """
    import open_clip

    register_model_configs()
    if model.startswith("local-dir:"):
        if weights is not None:
            raise ClipLoadError(f"{model}: a local-dir folder brings its own weights; do not also pass weights")
        folder = Path(model.split(":", 1)[1]).expanduser()
        if not (folder / "open_clip_config.json").is_file():
            raise ClipLoadError(f"{folder}: not an open_clip folder (needs open_clip_config.json and a weights file)")
        try:
            net = open_clip.create_model(f"local-dir:{folder}", device=device)
        except RuntimeError as exc:
            raise ClipLoadError(f"{folder}: the weights do not fit the folder's open_clip_config.json "
                                f"({exc})") from None
        return _finish(net, model, f"local-dir:{folder}", device, folder)
    if model.startswith("hf-hub:"):
        return _from_hub(model, None, device)
    card = _clip_card(model)
    if card is not None:
        return load_card(card, weights, device)
    if model not in open_clip.list_models():
        raise ClipLoadError(f"unknown CLIP {model!r}: not a zoo model, not one of open_clip.list_models() and not "
                            "'local-dir:/folder' or 'hf-hub:org/repo'")
    if weights is None:
        raise ClipLoadError(f"{model}: name the weights: a local file (weights=/path/model.safetensors), a hub tag "
                            "when online, or 'random' for a randomly initialised model")
    if str(weights) == "random":
        return _finish(open_clip.create_model(model, device=device), model, "random", device)
    path = Path(weights).expanduser()
    if path.is_file():
        net = _create_random(model)
        _load_weights_file(net, model, path)
        return _finish(net.to(device), model, str(path), device)
    if path.suffix in _WEIGHT_SUFFIXES or os.sep in str(weights):
        raise ClipLoadError(f"{path}: no such weights file")
    return _from_hub(model, str(weights), device)


def _from_hub(model: str, tag: str | None, device: str) -> LoadedClip:
    import open_clip

    what = f"{model} with pretrained tag {tag!r}" if tag else model
    hint = ("Give a local file instead: load_clip(<architecture>, weights='/path/model.safetensors') or "
            "model='local-dir:/folder' (open_clip_config.json + weights).")
    if is_offline():
        raise ClipLoadError(f"{what}: needs a download from the hub, but the workbench is offline "
                            f"(WORKBENCH_OFFLINE/HF_HUB_OFFLINE). {hint}")
    if tag is not None and open_clip.get_pretrained_cfg(model, tag) in (None, {}):
        raise ClipLoadError(f"{tag!r} is neither a file nor a known pretrained tag of {model} "
                            f"(tags: {open_clip.list_pretrained_tags_by_model(model)}). {hint}")
    try:
        net = open_clip.create_model(model, pretrained=tag, device=device)
    except Exception as exc:
        raise ClipLoadError(f"{what}: the download failed ({type(exc).__name__}: {exc}); are you offline? "
                            f"{hint}") from None
    return _finish(net, model, f"hub:{tag or model}", device)


def _finish(net, architecture: str, source: str, device: str, config_dir: Path | None = None) -> LoadedClip:
    import open_clip

    net.eval()
    mean, std = _preprocess_cfg(net)
    tokenizer = open_clip.get_tokenizer(f"local-dir:{config_dir}" if config_dir else architecture)
    if not isinstance(tokenizer, open_clip.SimpleTokenizer):
        log.warning("%s uses %s, not the CLIP BPE tokenizer; per-token methods may not apply",
                    architecture, type(tokenizer).__name__)
    return LoadedClip(model=net, tokenizer=tokenizer, architecture=architecture, source=source,
                      image_size=int(net.visual.image_size[0] if isinstance(net.visual.image_size, (tuple, list))
                                     else net.visual.image_size),
                      mean=mean, std=std, device=device, config_dir=config_dir)


def save_clip_dir(clip: LoadedClip, folder: Path | str, half: bool = False) -> Path:
    """Write ``clip`` as an open_clip folder (``open_clip_config.json`` + ``open_clip_model.safetensors``).

    The folder loads back with ``load_clip("local-dir:<folder>")``. ``half`` stores float16 tensors
    (half the size; they are cast back to float32 on load).
    """
    import json

    import open_clip
    import torch

    from workbench.core.checkpoints import save_safetensors

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = clip.architecture
    if clip.config_dir is not None:
        config = json.loads((clip.config_dir / "open_clip_config.json").read_text())
    else:
        config = {"model_cfg": open_clip.get_model_config(name),
                  "preprocess_cfg": {"size": clip.image_size, "mean": list(clip.mean), "std": list(clip.std)}}
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=1) + "\n")
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in clip.model.state_dict().items()}
    with torch.no_grad():
        save_safetensors(state, folder / "open_clip_model.safetensors", metadata={"architecture": name})
    return folder
