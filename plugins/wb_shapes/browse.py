"""The ``shapes.scenes`` task: scenes with their ground truth, to see what the CLIP tasks are measured on."""

from __future__ import annotations

import numpy as np

from wb_shapes.params import BrowseScenesParams
from wb_shapes.world import generate_scenes
from workbench.api import ImageGrid, MetricsTable, Progress, Regions, RunContext


def run(params: BrowseScenesParams, ctx: RunContext):
    scenes = generate_scenes(params.count, params.split, params.data_seed, params.image_size, start=params.start)
    yield Progress(0.5, f"drew {len(scenes)} {params.split} scenes")
    first = scenes[0]
    yield Regions(name="boxes", title=f"Scene {first.index} ({params.split}): {first.caption}", image=first.image,
                  boxes=first.boxes, labels=[o.phrase for o in first.objects],
                  scores=np.ones(len(first.objects), np.float32))
    yield ImageGrid(name="scenes", title=f"Shapes world, {params.split} split, seed {params.data_seed}",
                    images=[s.image for s in scenes], captions=[_wrap(s.caption) for s in scenes], ncols=8)
    rows = [[s.index, s.caption, kind, foil.caption, foil.word_index, f"{foil.original_word} -> {foil.new_word}"]
            for s in scenes for kind, foil in s.foils.items()]
    yield MetricsTable(name="foils", title="Captions and their one-word foils",
                       columns=["scene", "caption", "foil kind", "foil", "word index", "swap"], rows=rows)


def _wrap(text: str, width: int = 22) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
