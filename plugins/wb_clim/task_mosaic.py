"""Task ``clim.mosaic``: build CLIM's mosaics from a batch of captioned shapes scenes and show their pseudo-boxes.

Each mosaic is drawn with its row-major pseudo-boxes labelled by their source scene's caption (the positive text
of that region in the CLIM loss); a table lists every cell, and the scenes left over are listed as singles.
"""

from __future__ import annotations

from wb_clim.mosaic import build_mosaics
from wb_clim.params import MosaicParams
from workbench.api import ImageGrid, MetricsTable, Regions, RunContext, UserError, load_sample


def run(params: MosaicParams, ctx: RunContext):
    if not params.grids or any(g < 1 or g > 8 for g in params.grids):
        raise UserError(f"grids must be sizes from 1 to 8, got {params.grids}")
    if params.split not in ("train", "test", "novel"):
        raise UserError(f"split must be train, test or novel, got {params.split!r}")
    world = load_sample("shapes", split=params.split, n=params.batch_size, seed=params.data_seed,
                        image_size=params.image_size)
    images, captions = [s.image for s in world], [s.caption for s in world]
    mosaics, singles = build_mosaics(images, captions, params.grids)
    rows = []
    for k, mosaic in enumerate(mosaics):
        yield Regions(name=f"mosaic-{k}", title=f"{mosaic.grid}x{mosaic.grid} mosaic {k}: pseudo-box = cell, label "
                                               "= its scene's caption", image=mosaic.image,
                      boxes=mosaic.pixel_boxes(), labels=[f"{i}: {c}" for i, c in enumerate(mosaic.captions)],
                      scores=[])
        for cell, (box, caption, source) in enumerate(zip(mosaic.boxes, mosaic.captions, mosaic.sources)):
            rows.append([f"mosaic {k}", mosaic.grid, cell, *(round(float(v), 4) for v in box),
                         f"{params.split}-{world[source].index}", caption])
    if singles:
        yield ImageGrid(name="singles", title="Single scenes (their global embedding is used)",
                        images=[images[i] for i in singles], captions=[captions[i] for i in singles], ncols=6)
    grouped = sum(g * g for g in params.grids)
    yield MetricsTable(name="cells", title="Pseudo-boxes (normalised x0, y0, x1, y1; row-major)",
                       columns=["mosaic", "grid", "cell", "x0", "y0", "x1", "y1", "scene", "caption"], rows=rows,
                       notes=f"{params.batch_size} scenes: {params.batch_size // grouped} group(s) of {grouped} give "
                             f"{len(mosaics)} mosaic(s); {len(singles)} single scene(s)")
