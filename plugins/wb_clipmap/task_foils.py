"""Task ``clip.foil-benchmark``: does CLIP4DM find the swapped word of the shapes world's one-word foils?

Every scene gives its true caption and one foil per kind (colour, shape, size, relation) with the swapped
word's index. Reported: localisation accuracy (most-negative word) per foil kind against chance, AP of
CLIPScore and F-CLIPScore for true vs foil captions, word-level P/R/F1 of the threshold flags.
"""

from __future__ import annotations

import numpy as np

from wb_clipmap.analysis import add_word_maps, analyse
from wb_clipmap.benchmark import Scored, benchmark_results, scored_from
from wb_clipmap.params import FoilBenchmarkParams
from wb_clipmap.readers import row_pictures
from wb_clipmap.sources import shapes_pairs
from wb_clipmap.views import model_view
from workbench.api import HeatmapGrid, MetricsTable, Progress, RunContext, load_clip

ITEM_COLUMNS = ["item", "foil type", "caption", "swapped word", "lowest word", "hit", "cosine", "CLIPScore",
                "F-CLIPScore (most negative)", "F-CLIPScore (threshold)"]


def _item_row(s: Scored) -> list:
    truth = s.pair.foil_index
    lowest = s.lowest.predicted
    return [s.pair.item, s.pair.group, s.pair.caption, s.words[truth] if truth is not None else "",
            s.words[lowest] if lowest is not None else "", bool(truth is not None and lowest == truth), s.cosine,
            s.clipscore, s.f_clipscore("most_negative"), s.f_clipscore("threshold")]


def object_phrase(words: list[str], index: int) -> range:
    """The ``size colour shape`` words of the object that word ``index`` describes (just the word otherwise)."""
    starts = [j for j in range(index + 1) if words[j] == "a"]
    phrase = range(starts[-1] + 1, starts[-1] + 4) if starts else range(index, index + 1)
    return phrase if index in phrase else range(index, index + 1)


def preference_table(scored: list[Scored]) -> MetricsTable:
    """Per foil kind: how often the CLIP itself prefers the true caption, and localisation on those foils.

    A CLIP that cannot tell a foil from the truth has no evidence to attribute, so localisation is read best
    next to this share.
    """
    true = {s.pair.item: s.cosine for s in scored if not s.pair.is_foil}
    rows = []
    for kind in sorted({s.pair.group for s in scored if s.pair.is_foil}):
        foils = [s for s in scored if s.pair.is_foil and s.pair.group == kind]
        prefers = [s for s in foils if true[s.pair.item.rsplit("-", 1)[0]] > s.cosine]
        hits = [s.lowest.predicted == s.pair.foil_index for s in prefers]
        in_phrase = [s.lowest.predicted in object_phrase(s.words, s.pair.foil_index) for s in foils]
        rows.append([kind, len(foils), len(prefers) / len(foils), float(np.mean(hits)) if hits else float("nan"),
                     float(np.mean(in_phrase))])
    return MetricsTable(name="clip-prefers-true", title="Does the CLIP itself tell the foil from the truth?",
                        columns=["foil type", "n", "share cos(true) > cos(foil)", "LA most-negative on those",
                                 "lowest word in the swapped word's object phrase"], rows=rows,
                        notes="object phrase: the 'size colour shape' words of the object the swapped word "
                              "describes (a relation word is its own phrase)")


def _examples(clip, params: FoilBenchmarkParams, scored: list[Scored]) -> HeatmapGrid:
    """For a few foils: the signed image maps of the swapped word and of the predicted (lowest) word."""
    images, heats, captions = [], [], []
    by_kind = [[s for s in scored if s.pair.is_foil and s.pair.group == kind] for kind in params.kinds]
    by_kind = [items for items in by_kind if items]
    foils = [by_kind[i % len(by_kind)][i] for i in range(params.n_examples) if i < len(by_kind[i % len(by_kind)])]
    for s in foils:
        analysis = analyse(clip, s.pair.image, s.pair.caption, params, "most_negative", image_map=False)
        picks = [s.pair.foil_index, s.lowest.predicted]
        add_word_maps(clip, s.pair.image, analysis, picks, params)
        view = model_view(s.pair.image)
        for (index, _, signed), role in zip(analysis.word_maps, ("swapped", "lowest")):
            images.append(view)
            heats.append(np.asarray(signed, float))
            captions.append(f"{s.pair.item} {role}: {s.words[index]} ({s.scores[index]:+.1e})")
    return HeatmapGrid(name="examples", title="Foils: signed map of the swapped word | of the lowest word",
                       images=images, heats=heats, labels=captions, signed=True, ncols=2)


def run(params: FoilBenchmarkParams, ctx: RunContext):
    if params.min_objects > params.max_objects:
        raise ValueError(f"min_objects={params.min_objects} is larger than max_objects={params.max_objects}")
    clip = load_clip(params.model, weights=params.weights or None, device=ctx.device)
    ctx.log(f"CLIP {clip.architecture} from {clip.source}")
    pairs = shapes_pairs(params.n_scenes, params.split, params.data_seed, params.image_size, params.min_objects,
                         params.max_objects, params.kinds)
    scored: list[Scored] = []
    for i, pair in enumerate(pairs):
        ctx.check_cancelled()
        scored.append(scored_from(pair, analyse(clip, pair.image, pair.caption, params,
                                                image_map=params.image_maps)))
        if i % 50 == 0:
            yield Progress((i + 1) / len(pairs), f"caption {i + 1}/{len(pairs)}")
    yield from benchmark_results(scored)
    yield preference_table(scored)
    order = np.argsort([s.f_clipscore("most_negative") for s in scored], kind="stable")
    yield MetricsTable(name="items", title="Captions, most misaligned first (lowest F-CLIPScore, most negative)",
                       columns=ITEM_COLUMNS, rows=[_item_row(scored[i]) for i in order],
                       notes=f"{params.n_scenes} {params.split} scenes (data seed {params.data_seed}); weights "
                             f"{clip.source}; template {params.template!r}; epsilon {params.epsilon:g}",
                       **row_pictures([scored[i].pair for i in order]))
    if params.n_examples:
        yield _examples(clip, params, scored)
