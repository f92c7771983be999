"""The independent shapes checker: a small CNN that reads a picture's object count, colours, shapes and
colour-shape combinations, trained on the shapes world's ground truth (not on any text model).

It judges text-to-image samples, so it must not share the biases of the models it judges (the tiny CLIP):
it sees only pixels and labels. Inputs are RGB at :data:`INPUT_SIZE` (the tiny diffusion model's resolution);
other sizes are resized with antialiasing. Its training blurs, noises and jitters the renders, because
generated pictures are softer and noisier than the world's clean drawings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wb_shapes.world import COLOURS, SHAPES, ShapeObject
from workbench.api import CheckpointError, ModelCard, UserError, load_into, save_safetensors, zoo_weights

ZOO_ID = "shapes-checker"
RECIPE = "zoo-shapes-checker"
INPUT_SIZE = 32
#: The feature map is the input downsampled by STRIDE: one cell per 4x4 pixels; objects never share a cell.
STRIDE = 4
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
N_COLOURS, N_SHAPES = len(COLOUR_NAMES), len(SHAPES)
#: Channels of the output map: objectness, colour logits, shape logits.
N_OUTPUTS = 1 + N_COLOURS + N_SHAPES
#: First index of the novel-split scenes training draws (evaluation draws novel scenes from 0 on).
NOVEL_TRAIN_START = 50_000_000
#: First index of the one-object train-split scenes training draws (its 1-4 object scenes start at 0).
SINGLE_TRAIN_START = 50_000_000


def combo_index(colour: str, shape: str) -> tuple[int, int]:
    """``(colour, shape)`` indices; unknown words are a clear error."""
    if colour not in COLOURS:
        raise UserError(f"colour {colour!r} is not a shapes-world colour ({', '.join(COLOUR_NAMES)})")
    if shape not in SHAPES:
        raise UserError(f"shape {shape!r} is not a shapes-world shape ({', '.join(SHAPES)})")
    return COLOUR_NAMES.index(colour), SHAPES.index(shape)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ShapesChecker(nn.Module):
    """A tiny centre-point detector: three conv blocks down to a map of one cell per 4x4 pixels, and per cell an
    objectness logit and the colour and shape logits of the object centred there (:data:`N_OUTPUTS` channels).

    Every object supervises its own cell, so the network learns shapes from each object on its own (a whole-image
    multi-label head barely learned shapes on this data) and colour stays bound to shape. Takes float RGB in
    [0, 1], ``(N, 3, H, W)``; other sizes than ``input_size`` are resized.
    """

    def __init__(self, width: int = 32, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.width, self.input_size = width, input_size
        self.body = nn.Sequential(_block(3, width), nn.MaxPool2d(2), _block(width, 2 * width), nn.MaxPool2d(2),
                                  _block(2 * width, 4 * width))
        self.head = nn.Conv2d(4 * width, N_OUTPUTS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True,
                              align_corners=False)
        return self.head(self.body(x))


@dataclass
class MapReading:
    """What a checker map says per picture: the count of detected objects and presence probabilities
    (colours ``(N, 10)``, shapes ``(N, 7)``, colour-shape pairs ``(N, 10, 7)``)."""

    count: np.ndarray
    colour_probs: np.ndarray
    shape_probs: np.ndarray
    combo_probs: np.ndarray


def read_map(logits: torch.Tensor) -> MapReading:
    """Objects are cells whose objectness is a 3x3 local maximum above 0.5; a pair is present with the largest
    ``P(object) P(colour) P(shape)`` over cells."""
    obj = torch.sigmoid(logits[:, 0])
    peaks = (obj == F.max_pool2d(obj[:, None], 3, 1, 1)[:, 0]) & (obj > 0.5)
    colour = logits[:, 1:1 + N_COLOURS].softmax(1) * obj[:, None]
    shape = logits[:, 1 + N_COLOURS:].softmax(1)
    combo = (colour[:, :, None] * shape[:, None]).flatten(3).amax(3)
    return MapReading(count=peaks.flatten(1).sum(1).numpy(), colour_probs=colour.flatten(2).amax(2).numpy(),
                      shape_probs=(shape * obj[:, None]).flatten(2).amax(2).numpy(), combo_probs=combo.numpy())


def targets(objects: Sequence[Sequence[ShapeObject]], image_size: int, theta: torch.Tensor | None = None,
            grid: int = INPUT_SIZE // STRIDE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training targets of scenes given by their objects (centres in pixels of ``image_size``), moved by the
    augmentation's affine ``theta``: objectness ``(N, g, g)`` and the colour and shape index per cell (-1: none)."""
    n = len(objects)
    obj = torch.zeros(n, grid, grid)
    colour = torch.full((n, grid, grid), -1, dtype=torch.long)
    shape = torch.full((n, grid, grid), -1, dtype=torch.long)
    for i, objs in enumerate(objects):
        for o in objs:
            u = torch.tensor(o.centre, dtype=torch.float32) * 2 / image_size - 1
            if theta is not None:
                u = (u - theta[i, :, 2]) / theta[i, 0, 0]
            cx, cy = (((u + 1) / 2 * grid).floor().long().clamp(0, grid - 1)).tolist()
            obj[i, cy, cx] = 1
            colour[i, cy, cx], shape[i, cy, cx] = combo_index(o.colour, o.shape)
    return obj, colour, shape


def as_batch(images) -> torch.Tensor:
    """uint8 pictures, an ``(N, H, W, 3)`` array or a list of ``(H, W, 3)`` arrays / PIL images, as a float
    ``(N, 3, H, W)`` tensor in [0, 1]; anything else is a :class:`UserError` saying what was given."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3:
            raise UserError(f"images: expected a uint8 array of shape (N, H, W, 3), got shape {images.shape}")
        arrays = list(images)
    else:
        arrays = [np.asarray(im) for im in images]
    if not arrays:
        raise UserError("images: no pictures given")
    for i, a in enumerate(arrays):
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[-1] != 3 or min(a.shape[:2]) < 8:
            raise UserError(f"images[{i}]: expected a uint8 RGB picture (H, W, 3) of at least 8x8 pixels, got "
                            f"{a.dtype} of shape {a.shape}")
    tensors = [torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float().div(255) for a in arrays]
    if len({t.shape for t in tensors}) > 1:
        tensors = [F.interpolate(t[None], size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True,
                                 align_corners=False)[0] for t in tensors]
    return torch.stack(tensors)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-picture separable Gaussian blur (sigma in pixels, 0 leaves the picture as it is)."""
    n, c, h, w = x.shape
    r = torch.arange(-2, 3, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (r[None] / sigma.clamp(min=1e-3)[:, None]) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)
    flat = F.pad(x.reshape(1, n * c, h, w), (2, 2, 2, 2), mode="replicate")
    flat = F.conv2d(flat, k[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, k[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, h, w)


def augment(x: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """What generated pictures do to a clean render: a small shift and zoom, mild blur, colour drift, noise.

    Kept mild so that neighbouring colours (red/orange/brown, blue/cyan, pink/white) stay apart. Returns the
    pictures and the affine ``theta`` (output -> input coordinates) that moved them.
    """
    n = len(x)

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, *shape, generator=gen)

    theta = torch.zeros(n, 2, 3)
    scale = 1 + strength * u(-0.06, 0.06)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = strength * u(-0.1, 0.1, 2)
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = _gaussian_blur(x, strength * u(0.0, 1.0) * (torch.rand(n, generator=gen) < 0.7))
    gain = 1 + strength * (u(-0.08, 0.08, 1, 1, 1) + u(-0.04, 0.04, 3, 1, 1))
    x = x * gain.to(x) + strength * u(-0.03, 0.03, 1, 1, 1).to(x)
    x = x + strength * u(0.0, 0.06, 1, 1, 1).to(x) * torch.randn(x.shape, generator=gen).to(x)
    return x.clamp(0, 1), theta


def save_checker(model: ShapesChecker, path: Path) -> None:
    meta = {"architecture": "ShapesChecker", "width": str(model.width), "input_size": str(model.input_size)}
    save_safetensors(model.state_dict(), path, metadata=meta)


def weights_metadata(path: Path, architecture: str, article: str = "a") -> dict[str, str]:
    """The metadata of ``path``, a safetensors file the plugin saved for ``architecture``; a missing, unreadable
    or other file is a :class:`CheckpointError` naming it."""
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"weights: {path} does not exist (give {article} {architecture} .safetensors file)")
    try:
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    if meta.get("architecture") != architecture:
        raise CheckpointError(f"{path}: not {article} {architecture} checkpoint (metadata architecture "
                              f"{meta.get('architecture')!r})")
    return meta


def load_model(path: Path | str | None = None) -> ShapesChecker:
    """A ShapesChecker from ``path`` (default: the zoo's weights), in eval mode."""
    path = Path(path) if path else zoo_weights(ZOO_ID)
    meta = weights_metadata(path, "ShapesChecker")
    model = ShapesChecker(width=int(meta["width"]), input_size=int(meta["input_size"]))
    load_into(model, path)
    return model.eval()


def load_card(card: ModelCard, weights: Path | str | None = None) -> ShapesChecker:
    """The card's loader: ``load_zoo_model("shapes-checker")``, or ``weights=`` a file of the same kind."""
    return load_model(weights or card.weights_path)


def make_card(metrics: dict[str, float], params: dict) -> ModelCard:
    return ModelCard(
        id=ZOO_ID, plugin="shapes-clip", title="Shapes checker: count, colours, shapes, combinations",
        weights="model.safetensors",
        architecture=f"ShapesChecker(width={params['width']}): 3 conv blocks + BatchNorm to a map of one cell per "
                     f"{STRIDE}x{STRIDE} pixels; per cell objectness, {N_COLOURS} colour and {N_SHAPES} shape "
                     f"logits (a centre-point detector); input RGB {params['image_size']}x{params['image_size']}",
        recipe=RECIPE,
        data=f"shapes world seed {params['data_seed']}: {params['steps']} steps of {params['batch_size']} fresh "
             f"{params['image_size']} px scenes: train split (1-4 objects from index 0; a share "
             f"{params['single_fraction']} one-object scenes from index {SINGLE_TRAIN_START:,}) and a share "
             f"{params['novel_fraction']} of the novel split (from index {NOVEL_TRAIN_START:,}, so that held-out "
             "combinations can be judged); shift/zoom/blur/colour/noise augmentation. Metrics on test-split "
             "scenes (and novel-split scenes from index 0, never trained on)",
        metrics={k: round(float(v), 4) for k, v in metrics.items()}, loader="wb_shapes.checker:load_card")
