"""LongAlign's segment-level text encoding: prompts longer than the CLIP context, encoded sentence by sentence.

The caption is split into segments, each segment is tokenized (one batch, padded to the longest, truncated to
the encoder's context) and encoded with the last hidden state; the merged sequence keeps every segment's rows in
order except end-of-text and padding rows (so each segment's start row stays), and is cut or padded to
``token_length`` rows with one *pad embedding*: the mean of the last 60 rows of the encoding of ``""`` padded to
the full context. Because the CLIP text model is causal, a segment's start and word rows do not depend on what
follows them; a one-sentence prompt's kept rows are those of the plain encoding.

Split rules: ``reference`` reproduces the official ``re.split(r'"!|\\.|\\?|;"', caption)`` — an alternation that
splits on ``.`` and ``?`` only (plus the literals ``"!`` and ``;"``), so ``3.5`` and ``Dr.`` are split too —
drops empty pieces and appends ``.`` to each; ``sentences`` splits after ``.``, ``!``, ``?`` or ``;`` followed by
white space, keeps decimals and common abbreviations whole, and appends ``.`` only where a piece has no end mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import torch

from workbench.api import UserError

SplitRule = Literal["reference", "sentences"]
REFERENCE_PATTERN = re.compile(r'"!|\.|\?|;"')
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
ABBREVIATIONS = ("dr.", "mr.", "mrs.", "ms.", "st.", "vs.", "etc.", "e.g.", "i.e.", "no.", "fig.", "approx.")
PAD_ROWS = 60


def split_segments(caption: str, rule: SplitRule = "reference") -> list[str]:
    """The caption's segments under ``rule``; a caption with no split point is one segment (with a '.')."""
    if rule == "reference":
        pieces = [p + "." for p in REFERENCE_PATTERN.split(caption) if p]
        return pieces or [caption + "."]
    if rule != "sentences":
        raise UserError(f"split={rule!r}: use 'reference' or 'sentences'")
    pieces: list[str] = []
    for piece in SENTENCE_END.split(caption.strip()):
        if pieces and pieces[-1].lower().rsplit(" ", 1)[-1] in ABBREVIATIONS:
            pieces[-1] = f"{pieces[-1]} {piece}"
        elif piece:
            pieces.append(piece)
    pieces = [p if p[-1] in ".!?;" else p + "." for p in pieces if p.strip(" .!?;")]
    return pieces or [caption.strip() + "."]


@dataclass
class Segment:
    """One segment as the text encoder saw it: its text, token count (with start and end) and whether the
    context cut it."""

    text: str
    tokens: int
    truncated: bool


@dataclass
class SegmentEncoding:
    """``embeds`` (token_length, D) for one caption; ``rows[i]`` says what merged row i carries: ``(segment,
    token text)`` or ``None`` for the pad embedding."""

    embeds: torch.Tensor
    segments: list[Segment]
    rows: list[tuple[int, str] | None] = field(default_factory=list)

    @property
    def start_rows(self) -> int:
        return sum(1 for r in self.rows if r is not None and r[1] == "<|startoftext|>")


def _encode(text_encoder, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return text_encoder(ids.to(text_encoder.device))[0]


def pad_embedding(tokenizer, text_encoder) -> torch.Tensor:
    """The mean of the last 60 rows of the encoding of ``""`` padded to the full context (all end/pad rows)."""
    context = tokenizer.model_max_length
    if context <= PAD_ROWS:
        raise UserError(f"the tokenizer's context is {context} tokens; the pad embedding needs more than {PAD_ROWS}")
    ids = tokenizer([""], padding="max_length", max_length=context, return_tensors="pt").input_ids
    return _encode(text_encoder, ids)[0, -PAD_ROWS:].mean(dim=0)


def segment_encode(tokenizer, text_encoder, caption: str, *, split: SplitRule = "reference",
                   token_length: int = 240, keep_end_tokens: bool = False, padding: str = "longest",
                   pad: torch.Tensor | None = None, allow_empty: bool = False) -> SegmentEncoding:
    """LongAlign's merged encoding of ``caption``. ``keep_end_tokens`` keeps the end/pad rows and ``padding=
    "max_length"`` pads every segment to the context: with both and ``token_length`` = the context, a
    one-segment prompt gives exactly the plain encoding (a check, not LongAlign)."""
    if token_length < 1:
        raise UserError(f"token_length={token_length}: must be at least 1")
    if not allow_empty and not caption.strip(" \t\n.!?;\"'"):
        raise UserError(f"prompt {caption!r} has no words to encode (empty or only separators)")
    context = tokenizer.model_max_length
    texts = split_segments(caption, split)
    full = tokenizer(texts, padding=False, truncation=False).input_ids
    batch = tokenizer(texts, padding="max_length" if padding == "max_length" else True, truncation=True,
                      max_length=context, return_tensors="pt").input_ids
    states = _encode(text_encoder, batch)
    drop = {tokenizer.pad_token_id, tokenizer.eos_token_id}
    chosen, rows = [], []
    for s, ids in enumerate(batch.tolist()):
        for position, token in enumerate(ids):
            if keep_end_tokens or token not in drop:
                chosen.append(states[s, position])
                rows.append((s, tokenizer.convert_ids_to_tokens(token)))
    merged = torch.stack(chosen)[:token_length]
    rows = rows[:token_length]
    if len(merged) < token_length:
        fill = pad if pad is not None else pad_embedding(tokenizer, text_encoder)
        merged = torch.cat([merged, fill.to(merged).expand(token_length - len(merged), -1)])
        rows += [None] * (token_length - len(rows))
    segments = [Segment(t, len(ids), len(ids) > context) for t, ids in zip(texts, full)]
    return SegmentEncoding(merged, segments, rows)


def segment_prompt_embeds(pipe, prompts: list[str], negative: str = "", **options) -> tuple[torch.Tensor, torch.Tensor]:
    """``(prompt_embeds, negative_prompt_embeds)`` (B, token_length, D) for a single-encoder (SD 1.x/2.x)
    pipeline, to pass as ``pipe(prompt_embeds=..., negative_prompt_embeds=...)``. The negative prompt is encoded
    the same way; an empty one as either split rule leaves ``""``: the one segment ``"."``."""
    if getattr(pipe, "text_encoder_2", None) is not None:
        raise UserError("segment encoding works on single-text-encoder pipelines (SD 1.x/2.x); this one has two")
    if not prompts:
        raise UserError("no prompts given")
    pad = pad_embedding(pipe.tokenizer, pipe.text_encoder)
    embeds = [segment_encode(pipe.tokenizer, pipe.text_encoder, p, pad=pad, **options).embeds for p in prompts]
    neg = segment_encode(pipe.tokenizer, pipe.text_encoder, negative, pad=pad, allow_empty=True, **options)
    return torch.stack(embeds), neg.embeds.expand(len(prompts), -1, -1).clone()
