"""Task ``clip.score``: CLIPScore (``2.5 * max(cos, 0)``) of pairs, on torch or on the exported ONNX encoders.

The ONNX backend runs both encoders in ONNX Runtime through the host's inference engine (exported once per
weights, parity-checked, cached; or the files in ``onnx_dir``); tokenising and image preprocessing stay with the
CLIP service. Attributions need gradients: they are in ``clip.misalignment``, torch only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from wb_clipmap.attribution import tokenize
from wb_clipmap.params import ScoreParams
from wb_clipmap.readers import Pair, row_pictures
from wb_clipmap.scoring import clipscore
from wb_clipmap.sources import gather_pairs
from workbench.api import ImageReadError, LoadedClip, MetricsTable, Progress, RunContext, load_clip, read_image


def _cosines(clip: LoadedClip, encoders, images: list[np.ndarray], texts: list[str]) -> np.ndarray:
    tokens = tokenize(clip, texts, trim_padding=encoders is None)[0]
    pixels = clip.preprocess(images)
    if encoders is None:
        with torch.no_grad():
            image = clip.model.encode_image(pixels)
            text = clip.text_states(tokens).pooled
        image, text = image.cpu().numpy(), text.cpu().numpy()
    else:
        image = encoders[0](pixels.cpu().numpy().astype(np.float32))[0]
        text = encoders[1](tokens.cpu().numpy().astype(np.int64))[0]
    image = image / np.linalg.norm(image, axis=-1, keepdims=True)
    text = text / np.linalg.norm(text, axis=-1, keepdims=True)
    return (image * text).sum(-1)


def run(params: ScoreParams, ctx: RunContext):
    pairset = gather_pairs(params)
    for problem in pairset.problems:
        ctx.log(f"warning: {problem}")
    clip = load_clip(params.model, weights=params.weights or None, device=ctx.device)
    encoders, parity = None, None
    if ctx.engine == "onnx":
        encoders = clip.encoder_sessions(ctx.inference, Path(params.onnx_dir).expanduser() if params.onnx_dir
                                         else None)
        parity = max((e.export.worst for e in encoders if e.export is not None), default=None)
    rows: list[tuple[list, Pair]] = []  # each table row with its pair
    ready: list[tuple[Pair, np.ndarray]] = []
    for pair in pairset.pairs:
        try:
            if not pair.caption.strip():
                raise ValueError("the caption is empty")
            ready.append((pair, pair.image if pair.image is not None else read_image(pair.image_path)))
        except (ImageReadError, ValueError) as exc:
            ctx.log(f"warning: skipped {pair.item}: {exc}")
            rows.append(([pair.item, pair.caption, None, None, False, pair.image_path, str(exc)], pair))
    for start in range(0, len(ready), params.batch_size):
        ctx.check_cancelled()
        chunk = ready[start:start + params.batch_size]
        cosines = _cosines(clip, encoders, [im for _, im in chunk], [params.template + p.caption for p, _ in chunk])
        for (pair, _), cos in zip(chunk, cosines):
            truncated = tokenize(clip, params.template + pair.caption)[1]
            if truncated:
                ctx.log(f"warning: {pair.item}: the caption is longer than the text context and was truncated")
            rows.append(([pair.item, pair.caption, float(cos), clipscore(float(cos)), truncated, pair.image_path,
                          ""], pair))
        yield Progress(min(1.0, (start + len(chunk)) / max(len(ready), 1)), f"{start + len(chunk)} pairs scored")
    rows.sort(key=lambda r: (r[0][3] is None, r[0][3] if r[0][3] is not None else 0.0))
    notes = f"backend {ctx.backend}; template {params.template!r}; CLIPScore = 2.5 * max(cos, 0)"
    if parity is not None:
        notes += f"; ONNX export parity: largest |onnx - torch| {parity:.2e}"
    yield MetricsTable(name="clipscore", title="CLIPScore, least aligned first",
                       columns=["item", "caption", "cosine", "CLIPScore", "truncated", "image", "error"],
                       rows=[row for row, _ in rows], notes="\n".join([notes, *pairset.problems]),
                       **row_pictures([pair for _, pair in rows]))
