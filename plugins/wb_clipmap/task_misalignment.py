"""Task ``clip.misalignment``: CLIP4DM attributions, flags, F-CLIPScore and image maps for one or many pairs.

One pair gives every view. Many pairs give a table sorted most misaligned first (lowest F-CLIPScore), the
detailed views of the ``max_views`` most misaligned pairs and, when the input has ground truth, the
benchmark tables. A pair that fails (unreadable image, empty caption) becomes a table row with its error.
"""

from __future__ import annotations

from wb_clipmap.analysis import PairAnalysis, add_word_maps, analyse
from wb_clipmap.benchmark import benchmark_results, scored_from
from wb_clipmap.params import MisalignmentParams
from wb_clipmap.readers import Pair, row_pictures
from wb_clipmap.scoring import flaggable
from wb_clipmap.sources import gather_pairs
from wb_clipmap.views import pair_results
from workbench.api import ImageReadError, MetricsTable, Progress, RunContext, load_clip, read_image

COLUMNS = ["item", "caption", "F-CLIPScore", "CLIPScore", "cosine", "flagged", "lowest word", "truncated",
           "image", "error"]


def mapped_words(analysis: PairAnalysis, params: MisalignmentParams) -> list[int]:
    """Word indices to map: the selected words, else the flagged words (or every word), never punctuation."""
    words = analysis.words.words
    if params.words:
        wanted = {w.lower() for w in params.words}
        return [i for i, w in enumerate(words) if w.lower() in wanted]
    if params.word_maps == "none":
        return []
    if params.word_maps == "all":
        return [int(i) for i in flaggable(words, analysis.words.covered, rules=analysis.rules).nonzero()[0]]
    return [int(i) for i in analysis.flagging.flags.nonzero()[0]]


def _row(pair: Pair, analysis: PairAnalysis | None, error: str = "") -> list:
    if analysis is None:
        return [pair.item, pair.caption, None, None, None, "", "", False, pair.image_path, error]
    words, flagging = analysis.words, analysis.flagging
    spans = "; ".join(s.text for s in flagging.spans)
    ok = flaggable(words.words, words.covered, "most_negative", analysis.rules)
    lowest = words.words[int(ok.nonzero()[0][words.scores[ok].argmin()])] if ok.any() else ""
    return [pair.item, pair.caption, analysis.f_clipscore, analysis.clipscore, analysis.cosine, spans, lowest,
            analysis.explanation.truncated, pair.image_path, error]


def _image(pair: Pair):
    return pair.image if pair.image is not None else read_image(pair.image_path)


def run(params: MisalignmentParams, ctx: RunContext):
    pairset = gather_pairs(params)
    for problem in pairset.problems:
        ctx.log(f"warning: {problem}")
    clip = load_clip(params.model, weights=params.weights or None, device=ctx.device)
    ctx.log(f"CLIP {clip.architecture} from {clip.source}; attributions run on torch ({ctx.device})")
    done: list[tuple[Pair, PairAnalysis]] = []
    failed: list[tuple[Pair, str]] = []
    single = len(pairset.pairs) == 1
    for i, pair in enumerate(pairset.pairs):
        ctx.check_cancelled()
        try:
            analysis = analyse(clip, _image(pair), pair.caption, params, params.mode, params.image_maps)
        except (ImageReadError, ValueError) as exc:
            where = pair.image_path or pair.item
            message = str(exc) if where in str(exc) else f"{where}: {exc}"
            ctx.log(f"warning: skipped {pair.item}: {message}")
            failed.append((pair, message))
            continue
        if analysis.explanation.truncated:
            ctx.log(f"warning: {pair.item}: the caption is longer than the text context and was truncated; "
                    "words past the cut are not scored")
        done.append((pair, analysis))
        if i % 10 == 0:
            yield Progress((i + 1) / len(pairset.pairs), f"pair {i + 1}/{len(pairset.pairs)}")
    ranked = sorted(done, key=lambda d: (d[1].f_clipscore, d[1].clipscore))
    for rank, (pair, analysis) in enumerate(ranked[: max(params.max_views, 1 if single else 0)]):
        image = _image(pair)
        add_word_maps(clip, image, analysis, mapped_words(analysis, params), params)
        yield from pair_results(analysis, image, "" if single else f"view-{rank + 1}-")
    if not single or failed:
        notes = [f"{len(done)} pairs scored, {len(failed)} failed, {len(pairset.problems)} entries of the input "
                 f"skipped; mode {params.mode}, epsilon {params.epsilon:g}, template {params.template!r}, last "
                 f"{params.text_layers} text layers"]
        notes += pairset.problems
        yield MetricsTable(name="pairs", title="Pairs, most misaligned first (lowest F-CLIPScore)", columns=COLUMNS,
                           rows=[_row(p, a) for p, a in ranked] + [_row(p, None, e) for p, e in failed],
                           notes="\n".join(notes), **row_pictures([p for p, _ in ranked + failed]))
    if not done:
        reasons = [e for _, e in failed] + list(pairset.problems)
        raise ValueError(f"no pair could be scored ({len(failed)} failed, {len(pairset.problems)} input entries "
                         f"skipped): {'; '.join(reasons[:3]) or 'the input holds no pair'}")
    scored = [scored_from(p, a) for p, a in done if p.has_labels]
    yield from benchmark_results(scored)
