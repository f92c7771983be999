"""AlignIT: a customised concept's cross-attention keys and values spliced into the base model's, at inference.

Every customisation (a textual-inversion embedding, a DreamBooth UNet, Custom Diffusion's k/v weights) makes the
cross-attention keys and values of the *other* prompt tokens drift from the base model's, and the rest of the
prompt is then followed less well. AlignIT computes K/V of the prompt with the base text encoder and the base
``to_k``/``to_v`` of each cross-attention layer, and overwrites the concept tokens' rows with the customised model's
K/V of the concept in a short concept prompt (``"a photo of {}"``). This is the first open implementation; every
choice the paper's abstract leaves open is a parameter: which layers splice, keys and/or values, the concept
prompt, and whether the unconditional half of a classifier-free-guidance batch is spliced (by default it is not).
Queries and the rest of the UNet come from the customised model. Layers that do not splice take all rows from the
base branch. The attention is the classic (materialised softmax) kernel, so maps can be recorded and a base run
with :func:`classic_attention` has the same arithmetic.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from workbench.api import UserError

END_ROWS = ("base", "concept", "delta")


@dataclass
class Splice:
    """The concept branch: the customised encoder's ``states`` (1, L_d, D) of the concept prompt, the concept
    positions ``src`` there and ``dst`` in the prompt, what to replace, and whether the unconditional half of a
    CFG batch ``[uncond; cond]`` is left alone."""

    states: torch.Tensor
    src: Sequence[int]
    dst: Sequence[int]
    keys: bool = True
    values: bool = True
    conditional_only: bool = True


@dataclass
class AttentionMaps:
    """Cross-attention probabilities of the conditional half, averaged over heads: layer name -> list over
    denoising steps of (tokens, h*w)."""

    maps: dict[str, list[torch.Tensor]] = field(default_factory=dict)


class AlignITProcessor:
    """Cross-attention (``attn2``) processor: K/V from the base projections, concept rows from the customised
    ones when this layer ``splices``; ``record`` collects attention maps."""

    def __init__(self, base_to_k: torch.nn.Module | None = None, base_to_v: torch.nn.Module | None = None,
                 splices: bool = True, name: str = "", record: AttentionMaps | None = None) -> None:
        self.base_to_k, self.base_to_v, self.splices, self.name, self.record = \
            base_to_k, base_to_v, splices, name, record

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None,
                 splice: Splice | None = None) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        four_d = hidden_states.ndim == 4
        if four_d:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        batch, length = context.shape[:2]
        attention_mask = attn.prepare_attention_mask(attention_mask, length, batch)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        key = (self.base_to_k or attn.to_k)(context)
        value = (self.base_to_v or attn.to_v)(context)
        if splice is not None and self.splices and len(splice.dst):
            rows = slice(batch // 2, batch) if splice.conditional_only and batch > 1 else slice(0, batch)
            src, dst = list(splice.src), list(splice.dst)
            concept = splice.states.to(context)
            if splice.keys:
                key[rows, dst] = attn.to_k(concept)[:, src].to(key)
            if splice.values:
                value[rows, dst] = attn.to_v(concept)[:, src].to(value)
        query, key, value = (attn.head_to_batch_dim(t) for t in (query, key, value))
        probs = attn.get_attention_scores(query, key, attention_mask)
        if self.record is not None:
            heads = attn.heads
            cond = probs.view(batch, heads, *probs.shape[1:])[batch // 2:].mean(dim=(0, 1))
            self.record.maps.setdefault(self.name, []).append(cond.T.detach().cpu())
        hidden_states = attn.batch_to_head_dim(torch.bmm(probs, value))
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if four_d:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch, channels, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def cross_attention_layers(unet) -> dict[str, torch.nn.Module]:
    """The UNet's cross-attention modules by processor name (``...attn2.processor``)."""
    return {f"{name}.processor": module for name, module in unet.named_modules()
            if name.endswith("attn2") and hasattr(module, "to_k")}


def classic_attention(unet) -> None:
    """Every attention layer on the classic kernel (the arithmetic AlignIT's processor uses)."""
    from diffusers.models.attention_processor import AttnProcessor

    unet.set_attn_processor(AttnProcessor())


def check_same_architecture(base_unet, custom_unet) -> None:
    """A clear error unless both UNets have the same cross-attention layers and projection shapes."""
    base, custom = cross_attention_layers(base_unet), cross_attention_layers(custom_unet)
    if base.keys() != custom.keys():
        raise UserError(f"the customised UNet has {len(custom)} cross-attention layers, the base {len(base)}: "
                        "AlignIT needs the customised model of the same base architecture")
    for name, layer in base.items():
        other = custom[name]
        for proj in ("to_k", "to_v"):
            a, b = getattr(layer, proj).weight.shape, getattr(other, proj).weight.shape
            if a != b:
                raise UserError(f"{name.removesuffix('.processor')}.{proj}: base {tuple(a)} vs customised "
                                f"{tuple(b)}: not the same architecture")


def install(custom_unet, base_unet, layers: Sequence[str] | None = None, record: AttentionMaps | None = None,
            ) -> dict:
    """Put AlignIT processors on the customised UNet (the same classic kernel, never splicing, on the
    self-attention layers, which also receive the splice argument); returns the processors it had, for
    :func:`restore`. ``layers``: substrings of layer names that splice (default all)."""
    check_same_architecture(base_unet, custom_unet)
    before = dict(custom_unet.attn_processors)
    base_layers = cross_attention_layers(base_unet)
    chosen = {n for n in base_layers if layers is None or any(part in n for part in layers)}
    if layers is not None and not chosen:
        raise UserError(f"layers={list(layers)}: no cross-attention layer matches; layers are "
                        f"{', '.join(n.removesuffix('.processor') for n in base_layers)}")
    processors = {name: AlignITProcessor(splices=False, name=name) for name in custom_unet.attn_processors}
    for name, layer in base_layers.items():
        processors[name] = AlignITProcessor(copy.deepcopy(layer.to_k), copy.deepcopy(layer.to_v),
                                            splices=name in chosen, name=name, record=record)
    custom_unet.set_attn_processor(processors)
    return before


def restore(unet, processors: dict) -> None:
    unet.set_attn_processor(processors)


def install_recorder(unet, record: AttentionMaps) -> dict:
    """Record the cross-attention maps of the UNet's own computation (classic kernel); returns the processors it
    had, for :func:`restore`."""
    before = dict(unet.attn_processors)
    classic_attention(unet)
    processors = dict(unet.attn_processors)
    for name in cross_attention_layers(unet):
        processors[name] = AlignITProcessor(splices=False, name=name, record=record)
    unet.set_attn_processor(processors)
    return before


def token_maps(record: AttentionMaps, tokens: int) -> torch.Tensor:
    """(tokens, side, side): the first ``tokens`` rows' maps, averaged over denoising steps and over the layers of
    the finest resolution."""
    finest = max(m[0].shape[1] for m in record.maps.values())
    stacked = torch.stack([step for maps in record.maps.values() if maps[0].shape[1] == finest for step in maps])
    side = int(round(finest ** 0.5))
    return stacked.mean(dim=0)[:tokens].reshape(tokens, side, side)


def concept_positions(tokenizer, prompt: str, concept: str) -> list[int]:
    """Positions (in the tokenized prompt, start token at 0) of the concept's tokens; every occurrence."""
    ids = tokenizer(prompt, truncation=True, max_length=tokenizer.model_max_length).input_ids
    piece = tokenizer(concept, add_special_tokens=False).input_ids
    if not piece:
        raise UserError(f"concept {concept!r} has no tokens")
    found = [i for i in range(len(ids) - len(piece) + 1) if ids[i:i + len(piece)] == piece]
    if not found:
        raise UserError(f"concept {concept!r} does not occur in the prompt {prompt!r} (as the tokenizer splits it)")
    return [i + k for i in found for k in range(len(piece))]


@dataclass
class AlignITInputs:
    """What one AlignIT generation uses: the base branch's prompt and states, the concept branch's, the
    positions, and the splice to pass as ``cross_attention_kwargs``."""

    base_prompt: str
    concept_prompt: str
    dst: list[int]
    src: list[int]
    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor
    splice: Splice


def end_rows(tokenizer, prompt: str, concept_prompt: str) -> tuple[list[int], list[int]]:
    """The end-of-text and padding rows of the concept prompt (``src``) and of the prompt (``dst``), paired in
    order, as many as both have."""
    length = tokenizer.model_max_length
    first_src, first_dst = (len(tokenizer(p, truncation=True, max_length=length).input_ids) - 1
                            for p in (concept_prompt, prompt))
    count = length - max(first_src, first_dst)
    return list(range(first_src, first_src + count)), list(range(first_dst, first_dst + count))


def prepare(base_pipe, custom_pipe, prompt: str, concept: str, *, template: str = "a photo of {}",
            concept_prompt: str | None = None, stand_in: str | None = None, keys: bool = True, values: bool = True,
            conditional_only: bool = True, negative_prompt: str = "", end: str = "base") -> AlignITInputs:
    """Both branches' states and the splice. The prompt names the concept as the customised tokenizer knows it
    (``<sks>``); the base branch reads it with ``stand_in`` in its place (default: the concept itself), which must
    take the same number of tokens so every other token keeps its position. ``end`` (not in the paper) says where
    the prompt's end-of-text and padding rows come from, where a causal text encoder summarises what came before
    (a small model's learnt token may act through them more than through its own row): ``base`` (the paper),
    ``concept`` (spliced from the concept prompt) or ``delta`` (the base's, plus the customised minus the base
    encoder's end rows of the concept prompt: the concept added, the rest of the prompt kept)."""
    if not prompt.strip():
        raise UserError("prompt is empty")
    if "{}" not in template and concept_prompt is None:
        raise UserError(f"template {template!r} needs a {{}} where the concept goes")
    concept_prompt = concept_prompt if concept_prompt is not None else template.format(concept)
    dst = concept_positions(custom_pipe.tokenizer, prompt, concept)
    src = concept_positions(custom_pipe.tokenizer, concept_prompt, concept)
    if len(src) != len(dst):
        raise UserError(f"the concept {concept!r} takes {len(dst)} token position(s) in the prompt but {len(src)} "
                        f"in the concept prompt {concept_prompt!r}: use it the same number of times in both")
    base_prompt = prompt.replace(concept, stand_in or concept)
    base_ids = base_pipe.tokenizer(base_prompt).input_ids
    custom_ids = custom_pipe.tokenizer(prompt).input_ids
    if len(base_ids) != len(custom_ids):
        raise UserError(f"the base tokenizer reads {base_prompt!r} as {len(base_ids)} tokens, the customised one "
                        f"reads the prompt as {len(custom_ids)}: give stand_in= a word of as many tokens as "
                        f"{concept!r} (a class word for a textual-inversion token)")
    if end not in END_ROWS:
        raise UserError(f"end={end!r}: expected one of {', '.join(END_ROWS)}")
    end_src, end_dst = end_rows(custom_pipe.tokenizer, prompt, concept_prompt) if end != "base" else ([], [])
    device = custom_pipe.unet.device
    cond, uncond = base_pipe.encode_prompt(base_prompt, device, 1, True, negative_prompt=negative_prompt)
    concept_states, _ = custom_pipe.encode_prompt(concept_prompt, device, 1, False)
    if end == "delta":
        base_concept, _ = base_pipe.encode_prompt(concept_prompt.replace(concept, stand_in or concept), device, 1,
                                                  False)
        cond = cond.clone()
        cond[:, end_dst] += concept_states[:, end_src] - base_concept[:, end_src]
        end_src, end_dst = [], []
    splice = Splice(concept_states, src + end_src, dst + end_dst, keys, values, conditional_only)
    return AlignITInputs(base_prompt, concept_prompt, dst, src, cond, uncond, splice)


def kv_drift(base_pipe, custom_pipe, prompt: str, stand_in_prompt: str | None = None) -> torch.Tensor:
    """Per prompt token, the mean over cross-attention layers of ``||K_custom - K_base|| + ||V_custom - V_base||``
    (customised encoder and projections vs base ones): the drift AlignIT removes."""
    device = custom_pipe.unet.device
    custom_states, _ = custom_pipe.encode_prompt(prompt, device, 1, False)
    base_states, _ = base_pipe.encode_prompt(stand_in_prompt or prompt, device, 1, False)
    base_layers, custom_layers = cross_attention_layers(base_pipe.unet), cross_attention_layers(custom_pipe.unet)
    drift = []
    with torch.no_grad():
        for name, layer in base_layers.items():
            other = custom_layers[name]
            dk = (other.to_k(custom_states) - layer.to_k(base_states)).norm(dim=-1)
            dv = (other.to_v(custom_states) - layer.to_v(base_states)).norm(dim=-1)
            drift.append((dk + dv)[0])
    n = len(custom_pipe.tokenizer(prompt).input_ids)
    return torch.stack(drift).mean(dim=0)[:n]
