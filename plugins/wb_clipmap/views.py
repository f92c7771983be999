"""Results for one analysed pair: word and token scores, image relevance heatmaps, per-word map grids.

Maps stay data (heatmaps and heatmap grids); the host's renderers blend them over the image with the display
options the user picks. Heatmaps cover the centre square the CLIP sees, so the image shown is that crop.
"""

from __future__ import annotations

import numpy as np

from wb_clipmap.analysis import PairAnalysis
from workbench.api import Heatmap, HeatmapGrid, MetricsTable, Result, TokenScores


def model_view(image: np.ndarray) -> np.ndarray:
    """The centre square of ``image``: the region the CLIP's resize-and-centre-crop keeps."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def _piece(text: str) -> str:
    return text.replace("</w>", "")


def word_result(analysis: PairAnalysis, name: str, title: str) -> TokenScores:
    words = analysis.words
    return TokenScores(name=name, title=title, tokens=list(words.words), scores=np.asarray(words.scores, float),
                       flags=np.asarray(analysis.flagging.flags, bool), threshold=analysis.epsilon,
                       summary=analysis.summary())


def pair_results(analysis: PairAnalysis, image: np.ndarray, prefix: str = "") -> list[Result]:
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
    caption = {"caption_words": list(analysis.words.words),
               "caption_flags": [bool(f) for f in analysis.flagging.flags]}
    if ex.image_unsigned is not None:
        out.append(Heatmap(name=f"{prefix}relevance", title="Image relevance for the caption (Chefer, clamped)",
                           image=view, heat=ex.image_unsigned, signed=False, label="relevance", **caption))
        out.append(Heatmap(name=f"{prefix}relevance-signed",
                           title="Signed image relevance: red for, blue against the caption",
                           image=view, heat=ex.image_signed, signed=True, label="signed relevance", **caption))
    if analysis.word_maps:
        labels = [f"{analysis.words.words[i]} ({analysis.words.scores[i]:+.2e})" for i, _, _ in analysis.word_maps]
        for suffix, signed, column in (("", False, 1), ("-signed", True, 2)):
            out.append(HeatmapGrid(
                name=f"{prefix}word-maps{suffix}", caption=analysis.caption, signed=signed, images=[view],
                title="Image relevance per word" + (": red for, blue against the word" if signed else ""),
                heats=[np.asarray(m[column], float) for m in analysis.word_maps], labels=labels, ncols=4))
    return out
