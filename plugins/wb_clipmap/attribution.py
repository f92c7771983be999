"""CLIP4DM token attributions and the image relevance maps, from one forward and one backward pass.

The target is the raw cosine ``s = cos(f_img, f_txt)`` (times ``target_sign``). For the text tower's last
``k`` layers CLIP4DM takes ``C_l = mean_heads(dS/dA_l * A_l)`` without clamping, averages the layers and
reads the EOT row: ``r_j = R[eot, j]`` for the tokens between SOT and EOT. Negative means the token pulls
the caption away from the image. Attention probabilities come from the host CLIP service's attention recording
(the very tensors multiplied with V), so the gradients are exact.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from wb_clipmap.relevance import cls_map, layer_slice, rollout
from workbench.api import CaptionTruncatedWarning, LoadedClip


@dataclass
class Explanation:
    """What one image-caption pair gives: BPE attributions, the text relevance matrix and the image maps.

    ``pieces`` and ``token_scores`` cover template + caption without SOT/EOT (after truncation);
    ``relevance`` is the layer-averaged ``[L, L]`` matrix (for debugging); the image maps are ``(gh, gw)``
    grids, or None when the image map was not asked for.
    """

    pieces: list[str]
    token_scores: np.ndarray
    relevance: np.ndarray
    cosine: float
    eot: int
    truncated: bool
    image_unsigned: np.ndarray | None = None
    image_signed: np.ndarray | None = None


def tokenize(clip: LoadedClip, texts: str | list[str], trim_padding: bool = True) -> tuple[torch.Tensor, bool]:
    """Tokens (padding trimmed unless asked not to) and whether any caption was truncated to the context."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaptionTruncatedWarning)
        tokens = clip.tokenize(texts)
    truncated = any(issubclass(w.category, CaptionTruncatedWarning) for w in caught)
    if trim_padding:
        tokens = tokens[:, : int(tokens.argmax(dim=-1).max()) + 1]
    return tokens, truncated


def _text_layers(n_layers: int, k: int) -> slice:
    if not 1 <= k <= n_layers:
        raise ValueError(f"text_layers={k}: the text tower has {n_layers} layers; use 1..{n_layers}")
    return slice(n_layers - k, None)


def explain(clip: LoadedClip, image: np.ndarray | torch.Tensor, text: str, text_layers: int = 3,
            image_map: bool = True, image_start_layer: int = 0, target_sign: float = 1.0,
            trim_padding: bool = True) -> Explanation:
    """Attribute ``cos(image, text)`` to the BPE tokens of ``text`` (and to the image patches).

    ``text`` is the full text the CLIP reads (template + caption). With ``trim_padding`` the padding after
    EOT is not run at all; the causal mask makes the numbers the same either way.
    """
    model = clip.model
    tokens, truncated = tokenize(clip, text, trim_padding)
    pixels = clip.preprocess(image)
    text_sel = _text_layers(len(model.transformer.resblocks), text_layers)
    image_sel = layer_slice(len(model.visual.transformer.resblocks), image_start_layer)
    with torch.enable_grad(), clip.record_text_attention() as text_maps, clip.record_image_attention() as image_maps:
        image_embed = model.encode_image(pixels)
        text_embed = clip.text_states(tokens).pooled
        cosine = (F.normalize(image_embed, dim=-1) * F.normalize(text_embed, dim=-1)).sum()
        target = cosine * target_sign
        text_attn = text_maps[text_sel]
        image_attn = image_maps[image_sel] if image_map else []
        grads = torch.autograd.grad(target, text_attn + image_attn)
    text_grads, image_grads = grads[:len(text_attn)], grads[len(text_attn):]
    relevance = torch.stack([(g * a).mean(dim=1)[0] for g, a in zip(text_grads, text_attn)]).mean(dim=0).detach()
    eot = int(tokens[0].argmax())
    out = Explanation(pieces=clip.token_strings(text), token_scores=relevance[eot, 1:eot].cpu().numpy(),
                      relevance=relevance.cpu().numpy(), cosine=float(cosine.detach()), eot=eot,
                      truncated=truncated)
    if image_map:
        grid = clip.patch_grid
        detached = [a.detach() for a in image_attn]
        out.image_unsigned = cls_map(rollout(detached, list(image_grads)), grid)[0].cpu().numpy()
        out.image_signed = cls_map(rollout(detached, list(image_grads), signed=True), grid)[0].cpu().numpy()
    return out


def word_image_maps(clip: LoadedClip, image: np.ndarray | torch.Tensor, texts: list[str],
                    image_start_layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Chefer relevance of the image for each text (e.g. template + one word): ``(unsigned, signed)`` maps.

    The image runs through the vision tower once; one batched backward (``is_grads_batched``, a vmap over the
    texts' targets) gives each text's attention gradients, so the words cost backwards, not forwards.
    """
    model = clip.model
    tokens, _ = tokenize(clip, texts)
    pixels = clip.preprocess(image)
    sel = layer_slice(len(model.visual.transformer.resblocks), image_start_layer)
    with torch.enable_grad(), clip.record_image_attention() as image_maps:
        image_embed = F.normalize(model.encode_image(pixels), dim=-1)
        text_embed = F.normalize(clip.text_states(tokens).pooled, dim=-1)
        targets = (image_embed * text_embed).sum(dim=-1)
        attn = image_maps[sel]
        one_hot = torch.eye(len(texts), dtype=targets.dtype, device=targets.device)
        grads = torch.autograd.grad(targets, attn, grad_outputs=one_hot, is_grads_batched=True)
    detached = [a.detach().expand(len(texts), *a.shape[1:]) for a in attn]
    grads = [g[:, 0] for g in grads]
    grid = clip.patch_grid
    unsigned = cls_map(rollout(detached, grads), grid).cpu().numpy()
    signed = cls_map(rollout(detached, grads, signed=True), grid).cpu().numpy()
    return unsigned, signed
