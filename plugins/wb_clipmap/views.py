"""Results for one analysed pair: word and token scores, image relevance heatmaps, a gallery of word maps.

The gallery needs pictures, so word maps are blended over the image here (colour mapping only; the
science is done by then). Heatmaps cover the centre square the CLIP sees, so the image shown is that crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from wb_clipmap.analysis import PairAnalysis
from workbench.api import Heatmap, ImageGrid, MetricsTable, Result, TokenScores


def model_view(image: np.ndarray) -> np.ndarray:
    """The centre square of ``image``: the region the CLIP's resize-and-centre-crop keeps."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def overlay(image: np.ndarray, heat: np.ndarray, signed: bool, opacity: float = 0.5,
            colormap: str = "jet") -> np.ndarray:
    """``heat`` upsampled (bilinear) onto ``image`` (uint8 RGB): min-max scaled, or ±max|heat| when signed."""
    import matplotlib

    h, w = image.shape[:2]
    heat = cv2.resize(np.asarray(heat, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if signed:
        bound = float(np.abs(heat).max())
        unit = 0.5 + 0.5 * heat / bound if bound > 0 else np.full_like(heat, 0.5)
        cmap = matplotlib.colormaps["RdBu_r"]
    else:
        span = float(heat.max() - heat.min())
        unit = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
        cmap = matplotlib.colormaps[colormap]
    colour = cmap(unit)[..., :3] * 255.0
    blended = (1 - opacity) * image.astype(np.float32) + opacity * colour
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _piece(text: str) -> str:
    return text.replace("</w>", "")


def word_result(analysis: PairAnalysis, name: str, title: str) -> TokenScores:
    words = analysis.words
    return TokenScores(name=name, title=title, tokens=list(words.words), scores=np.asarray(words.scores, float),
                       flags=np.asarray(analysis.flagging.flags, bool), threshold=analysis.epsilon,
                       summary=analysis.summary())


def pair_results(analysis: PairAnalysis, image: np.ndarray, prefix: str = "", opacity: float = 0.5,
                 colormap: str = "jet") -> list[Result]:
    """Word scores, BPE scores, flagged spans, the two relevance maps and the per-word gallery of one pair."""
    ex = analysis.explanation
    cut = " (caption truncated to the text context)" if ex.truncated else ""
    out: list[Result] = [
        word_result(analysis, f"{prefix}words", f"Word attributions ({analysis.mode}): {analysis.caption}{cut}"),
        TokenScores(name=f"{prefix}tokens", title="BPE token attributions r_j (template included)",
                    tokens=[_piece(p) for p in ex.pieces], scores=np.asarray(ex.token_scores, float),
                    flags=np.zeros(len(ex.pieces), bool), threshold=analysis.epsilon,
                    summary={"cosine": ex.cosine}),
        MetricsTable(name=f"{prefix}spans", title="Flagged spans (adjacent flagged words merged)",
                     columns=["first word", "last word", "text", "mean score"],
                     rows=[[s.start, s.end, s.text, s.score] for s in analysis.flagging.spans],
                     notes="no word flagged" if not analysis.flagging.spans else ""),
    ]
    view = model_view(image)
    if ex.image_unsigned is not None:
        out.append(Heatmap(name=f"{prefix}relevance", title="Image relevance for the caption (Chefer, clamped)",
                           image=view, heat=ex.image_unsigned, signed=False, label="relevance"))
        out.append(Heatmap(name=f"{prefix}relevance-signed",
                           title="Signed image relevance: red for, blue against the caption",
                           image=view, heat=ex.image_signed, signed=True, label="signed relevance"))
    if analysis.word_maps:
        images, captions = [], []
        for index, unsigned, signed in analysis.word_maps:
            word, score = analysis.words.words[index], analysis.words.scores[index]
            images += [overlay(view, unsigned, False, opacity, colormap), overlay(view, signed, True, opacity)]
            captions += [f"{word} ({score:+.2e})", f"{word}: signed"]
        out.append(ImageGrid(name=f"{prefix}word-maps", title="Image relevance per word (unsigned | signed)",
                             images=images, captions=captions, ncols=4))
    return out
