"""Dense (per-token) joint-space features of a ViT CLIP, and region features pooled from them by RoIAlign.

The dense map is the one region-CLIP works (MaskCLIP, CLIM's ``encode_dense`` / ``extract_type="v2"``) use:

1. embed the image (positional embeddings interpolated bicubically when the token grid differs from the one
   the model was trained at) and run every block but the last as usual;
2. in the **last block, skip the q.k attention**: its attention output is ``out_proj(v_proj(ln_1(x)))`` (the
   value path, "v-v"), followed by the residual and the MLP as usual;
3. apply ``ln_post`` and the projection to the patch tokens and L2-normalise each token: ``[B, D, H, W]``.

:func:`region_features` pools boxes from the map with ``torchvision.ops.roi_align`` (``output_size=1``,
``sampling_ratio=-1``, ``aligned=True``, boxes scaled to token-grid units) and L2-normalises the result. With
these settings a box equal to one token cell returns exactly that cell, and the whole-image box returns the
(normalised) mean of the grid, because RoIAlign then samples every cell centre once.

The map always covers the whole image (no crop): :func:`dense_inputs` resizes the image so that its shorter side
is ``size`` and both sides are multiples of the patch size. A box therefore maps to the grid by the ratio of the
grid to the image it is given in, whatever the image's pixel size: boxes in original or resized pixels give the
same features when the matching ``image_size`` is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class DenseFeaturesError(ValueError):
    """The model or the input does not allow dense features (not a ViT, attention pooling, mixed image sizes)."""


def _vision_tower(model: nn.Module) -> nn.Module:
    visual = getattr(model, "visual", model)
    needed = ("conv1", "class_embedding", "positional_embedding", "ln_pre", "transformer", "ln_post")
    missing = [name for name in needed if not hasattr(visual, name)]
    if missing:
        raise DenseFeaturesError(f"dense features need an open_clip VisionTransformer; {type(visual).__name__} "
                                 f"has no {', '.join(missing)} (ResNet and timm towers are not supported)")
    last = visual.transformer.resblocks[-1]
    if not isinstance(getattr(last, "attn", None), nn.MultiheadAttention) or last.attn.in_proj_weight is None:
        raise DenseFeaturesError(f"dense features need the last vision block to use nn.MultiheadAttention with a "
                                 f"packed in-projection; {type(last).__name__} does not (custom attention blocks "
                                 "are not supported)")
    if getattr(visual, "attn_pool", None) is not None:
        raise DenseFeaturesError("dense features are not defined for a vision tower with attentional pooling "
                                 "(CoCa-style); use a plain ViT CLIP")
    return visual


def patch_size(model: nn.Module) -> tuple[int, int]:
    """The ViT's patch size ``(ph, pw)`` in pixels."""
    size = _vision_tower(model).conv1.kernel_size
    return int(size[0]), int(size[1])


def dense_grid_size(model: nn.Module, height: int, width: int, size: int | None = None) -> tuple[int, int]:
    """Token grid ``(h, w)`` for an image of ``height x width``: shorter side to ``size`` (default: the model's
    image size), both sides rounded to whole patches (at least one)."""
    visual = _vision_tower(model)
    ph, pw = patch_size(model)
    if size is None:
        native = visual.image_size
        size = int(min(native) if isinstance(native, (tuple, list)) else native)
    scale = size / min(height, width)
    return max(1, round(height * scale / ph)), max(1, round(width * scale / pw))


def dense_inputs(images, model: nn.Module, mean: Sequence[float], std: Sequence[float], size: int | None = None,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 RGB ``HxWx3`` image(s) to a normalised ``[B, 3, h*ph, w*pw]`` tensor covering the whole image.

    All images of one call must have the same size (their grids must agree); a float tensor passes through.
    """
    import cv2

    if isinstance(images, torch.Tensor):
        return images.to(device)
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    images = [np.asarray(im) for im in images]
    if not images:
        raise DenseFeaturesError("no images given")
    for i, image in enumerate(images):
        if image.ndim != 3 or image.shape[2] != 3:
            raise DenseFeaturesError(f"image {i}: expected an RGB array HxWx3, got shape {image.shape}")
        if image.shape[:2] != images[0].shape[:2]:
            raise DenseFeaturesError(f"image {i} is {image.shape[1]}x{image.shape[0]} but image 0 is "
                                     f"{images[0].shape[1]}x{images[0].shape[0]}: one call takes images of one size")
    h, w = dense_grid_size(model, *images[0].shape[:2], size=size)
    ph, pw = patch_size(model)
    out = np.empty((len(images), h * ph, w * pw, 3), np.float32)
    for i, image in enumerate(images):
        if image.shape[:2] != (h * ph, w * pw):
            image = cv2.resize(image, (w * pw, h * ph), interpolation=cv2.INTER_CUBIC)
        out[i] = image.astype(np.float32) / 255.0
    out = (out - np.array(mean, np.float32)) / np.array(std, np.float32)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous().to(device)


def interpolated_positions(visual: nn.Module, grid: tuple[int, int]) -> torch.Tensor:
    """The positional embeddings ``[1 + h*w, width]`` for a token grid: the class position unchanged, the patch
    positions resized bicubically (the trained ones, unchanged, at the trained grid)."""
    pos = visual.positional_embedding
    trained = tuple(int(g) for g in visual.grid_size)
    if tuple(grid) == trained:
        return pos
    cls, patches = pos[:1], pos[1:]
    patches = patches.reshape(1, trained[0], trained[1], -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=tuple(grid), mode="bicubic", align_corners=False)
    return torch.cat([cls, patches.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1)])


def value_path(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The last block with its attention replaced by the value path: ``x + out_proj(v_proj(ln_1(x)))``, then the
    MLP with its residual (layer scales kept). ``x`` is ``[B, L, width]``."""
    mha: nn.MultiheadAttention = block.attn
    width = x.shape[-1]
    weight = mha.in_proj_weight[2 * width:]
    bias = mha.in_proj_bias[2 * width:] if mha.in_proj_bias is not None else None
    v = F.linear(block.ln_1(x), weight, bias)
    x = x + block.ls_1(mha.out_proj(v))
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def dense_features(model: nn.Module, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """The dense joint-space map ``[B, D, h, w]`` of preprocessed ``pixels`` ``[B, 3, h*ph, w*pw]``.

    ``model`` is an open_clip ``CLIP`` (or its ``visual``). Keeps the autograd graph.
    """
    visual = _vision_tower(model)
    ph, pw = patch_size(model)
    if pixels.ndim != 4 or pixels.shape[2] % ph or pixels.shape[3] % pw:
        raise DenseFeaturesError(f"pixels of shape {tuple(pixels.shape)}: expected [B, 3, H, W] with H, W "
                                 f"multiples of the patch size {ph}x{pw} (use dense_inputs)")
    grid = (pixels.shape[2] // ph, pixels.shape[3] // pw)
    x = visual.conv1(pixels.to(visual.conv1.weight.dtype))
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + interpolated_positions(visual, grid).to(x.dtype)
    x = visual.ln_pre(x)
    transformer = visual.transformer
    blocks = list(transformer.resblocks)
    batch_first = getattr(transformer, "batch_first", True)
    if not batch_first:
        x = x.transpose(0, 1)
    for block in blocks[:-1]:
        x = block(x)
    if not batch_first:
        x = x.transpose(0, 1)
    x = value_path(blocks[-1], x)
    tokens = visual.ln_post(x[:, 1:])
    if visual.proj is not None:
        tokens = tokens @ visual.proj
    if normalize:
        tokens = F.normalize(tokens, dim=-1)
    return tokens.reshape(x.shape[0], grid[0], grid[1], -1).permute(0, 3, 1, 2).contiguous()


def _as_boxes(boxes, dtype, device) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(boxes, np.float64) if not isinstance(boxes, torch.Tensor) else boxes)
    tensor = tensor.to(device=device, dtype=dtype).reshape(-1, 4)
    return tensor


def boxes_to_grid(boxes, image_size: tuple[int, int], grid: tuple[int, int]) -> torch.Tensor:
    """Pixel boxes ``x0, y0, x1, y1`` in an image of ``image_size = (height, width)`` to token-grid units."""
    height, width = image_size
    boxes = _as_boxes(boxes, torch.float64, "cpu")
    scale = torch.tensor([grid[1] / width, grid[0] / height, grid[1] / width, grid[0] / height], dtype=torch.float64)
    return boxes * scale


def region_features(dense: torch.Tensor, boxes, image_size: tuple[int, int] | Sequence[tuple[int, int]],
                    normalize: bool = True) -> torch.Tensor | list[torch.Tensor]:
    """Region embeddings of pixel boxes pooled from a dense map by RoIAlign at the token grid.

    ``dense`` is ``[D, h, w]`` with ``boxes`` ``(n, 4)`` (returns ``[n, D]``), or ``[B, D, h, w]`` with a list of
    ``B`` box arrays (returns a list of ``[n_b, D]``). Boxes are ``x0, y0, x1, y1`` in the pixels of an image of
    ``image_size = (height, width)`` (one size, or one per image): the frame the boxes were drawn in, not the
    model's input size. RoIAlign runs with ``output_size=1``, ``spatial_scale=1``, ``sampling_ratio=-1`` and
    ``aligned=True``; the result is L2-normalised unless ``normalize=False``.
    """
    from torchvision.ops import roi_align

    single = dense.ndim == 3
    maps = dense[None] if single else dense
    per_image = [boxes] if single else list(boxes)
    if len(per_image) != maps.shape[0]:
        raise DenseFeaturesError(f"{maps.shape[0]} dense maps but {len(per_image)} box lists")
    sizes = [tuple(image_size)] * len(per_image) if _is_size(image_size) else [tuple(s) for s in image_size]
    if len(sizes) != len(per_image):
        raise DenseFeaturesError(f"{len(per_image)} box lists but {len(sizes)} image sizes")
    grid = (maps.shape[2], maps.shape[3])
    rois = [boxes_to_grid(b, s, grid).to(device=maps.device, dtype=maps.dtype) for b, s in zip(per_image, sizes)]
    counts = [len(r) for r in rois]
    if sum(counts) == 0:
        empty = maps.new_zeros((0, maps.shape[1]))
        return empty if single else [empty for _ in counts]
    pooled = roi_align(maps, rois, output_size=(1, 1), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    pooled = pooled.flatten(1)
    if normalize:
        pooled = F.normalize(pooled, dim=-1)
    if single:
        return pooled
    return list(pooled.split(counts))


def _is_size(value) -> bool:
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in value))


def class_maps(dense: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Dense class-similarity maps: ``[B, C, h, w]`` cosine of each token with each class embedding ``[C, D]``
    (both normalised here)."""
    return torch.einsum("bdhw,cd->bchw", F.normalize(dense, dim=1), F.normalize(text, dim=-1))
