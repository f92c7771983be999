"""The tiny CLIP's open_clip text tower as a transformers ``CLIPTextModel`` with the real CLIP BPE tokenizer.

Stable Diffusion conditions its UNet on ``CLIPTextModel(...).last_hidden_state``: the text transformer's states
after the final LayerNorm, before the projection. open_clip keeps the same network under other names (one fused
``in_proj`` per attention, ``c_fc``/``c_proj`` MLPs, ``ln_final``), so the conversion is a renaming plus splitting
q/k/v. The tokenizer files are written from open_clip's own BPE tables (``bpe_simple_vocab_16e6.txt.gz``), so
``CLIPTokenizer`` gives open_clip's ids up to the end-of-text token. Padding follows Stable Diffusion 1.x (pad = eos);
open_clip pads with id 0 (``"!"``), but as a pad token ``"!"`` would stop ``CLIPTokenizer`` from merging a ``"!"``
written in a caption. The text transformer is causal, so the states up to end-of-text do not depend on the padding.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from workbench.api import LoadedClip, UserError

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def text_config(clip: LoadedClip):
    """The ``CLIPTextConfig`` of ``clip``'s text tower (width, heads, layers, context, vocabulary, activation)."""
    from transformers import CLIPTextConfig

    model = clip.model
    blocks = model.transformer.resblocks
    width = int(model.token_embedding.weight.shape[1])
    activation = type(blocks[0].mlp.gelu).__name__
    if activation != "GELU" or getattr(blocks[0].mlp.gelu, "approximate", "none") != "none":
        raise UserError(f"CLIP {clip.architecture}: text MLP activation {activation} has no CLIPTextModel match")
    bpe = clip.tokenizer
    return CLIPTextConfig(
        vocab_size=int(model.token_embedding.weight.shape[0]), hidden_size=width,
        intermediate_size=int(blocks[0].mlp.c_fc.weight.shape[0]), num_hidden_layers=len(blocks),
        num_attention_heads=int(blocks[0].attn.num_heads), max_position_embeddings=clip.context_length,
        hidden_act="gelu", layer_norm_eps=float(model.ln_final.eps), projection_dim=clip.embed_dim,
        bos_token_id=bpe.sot_token_id, eos_token_id=bpe.eot_token_id, pad_token_id=bpe.eot_token_id)


def converted_state_dict(clip: LoadedClip) -> dict[str, torch.Tensor]:
    """open_clip text-tower weights under CLIPTextModel's names (without the ``text_model.`` level that
    transformers 4.x adds)."""
    sd = {k: v.detach().float() for k, v in clip.model.state_dict().items()}
    out = {"embeddings.token_embedding.weight": sd["token_embedding.weight"],
           "embeddings.position_embedding.weight": sd["positional_embedding"],
           "final_layer_norm.weight": sd["ln_final.weight"], "final_layer_norm.bias": sd["ln_final.bias"]}
    for i in range(len(clip.model.transformer.resblocks)):
        src, dst = f"transformer.resblocks.{i}.", f"encoder.layers.{i}."
        for name, part in zip(("q_proj", "k_proj", "v_proj"), sd[src + "attn.in_proj_weight"].chunk(3), strict=True):
            out[f"{dst}self_attn.{name}.weight"] = part
        for name, part in zip(("q_proj", "k_proj", "v_proj"), sd[src + "attn.in_proj_bias"].chunk(3), strict=True):
            out[f"{dst}self_attn.{name}.bias"] = part
        pairs = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
                 "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
        for a, b in pairs.items():
            out[f"{dst}{b}.weight"] = sd[f"{src}{a}.weight"]
            out[f"{dst}{b}.bias"] = sd[f"{src}{a}.bias"]
    return {k: v.contiguous() for k, v in out.items()}


def convert_text_tower(clip: LoadedClip):
    """A ``CLIPTextModel`` (eval mode, float32) computing ``clip``'s text states."""
    from transformers import CLIPTextModel

    model = CLIPTextModel(text_config(clip))
    missing, unexpected = getattr(model, "text_model", model).load_state_dict(converted_state_dict(clip), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise UserError(f"CLIP {clip.architecture}: text tower conversion left missing {missing} / unexpected "
                        f"{unexpected} keys")
    return model.eval()


def write_tokenizer_files(clip: LoadedClip, folder: Path) -> tuple[Path, Path]:
    """``vocab.json`` and ``merges.txt`` of ``clip``'s BPE (open_clip's tables, ranks in order); the special
    tokens under the names CLIP and Stable Diffusion use (open_clip 3 calls them ``<start_of_text>`` ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    bpe = clip.tokenizer
    special = {bpe.sot_token_id: BOS, bpe.eot_token_id: EOS}
    encoder = {special.get(i, token): i for token, i in bpe.encoder.items()}
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    vocab.write_text(json.dumps(encoder, ensure_ascii=False), encoding="utf-8")
    ranked = sorted(bpe.bpe_ranks.items(), key=lambda item: item[1])
    merges.write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for (a, b), _ in ranked), encoding="utf-8")
    return vocab, merges


def clip_tokenizer(clip: LoadedClip, folder: Path):
    """A ``CLIPTokenizer`` over ``clip``'s BPE files written into ``folder`` (pad = eos, as in SD 1.x)."""
    from transformers import CLIPTokenizer

    vocab, merges = write_tokenizer_files(clip, folder)
    return CLIPTokenizer(str(vocab), str(merges), model_max_length=clip.context_length, bos_token=BOS,
                         eos_token=EOS, unk_token=EOS, pad_token=EOS)
