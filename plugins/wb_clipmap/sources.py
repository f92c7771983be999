"""Where a task's pairs come from: one image + caption, a pairs file or folder, or the shapes sample world.

Shapes-world scenes come through the host (``load_sample("shapes")``); each foil names the object it is about,
so the foiled box is the ground truth of the pointing game, never inferred from the caption's words.
"""

from __future__ import annotations

from wb_clipmap.params import PairsFields
from wb_clipmap.readers import Pair, PairSet, read_pairs
from workbench.api import CaptionedScenes, load_sample


def shapes_scenes(n_scenes: int, split: str = "test", seed: int = 0, image_size: int = 64, min_objects: int = 2,
                  max_objects: int = 3) -> CaptionedScenes:
    return load_sample("shapes", split=split, n=n_scenes, seed=seed, image_size=image_size,
                       min_objects=min_objects, max_objects=max_objects)


def shapes_pairs(n_scenes: int, split: str = "test", seed: int = 0, image_size: int = 64, min_objects: int = 2,
                 max_objects: int = 3, kinds: tuple[str, ...] | list[str] | None = None) -> list[Pair]:
    """Each scene's true caption and its one-word foils (of ``kinds``), with the swapped word's index."""
    world = shapes_scenes(n_scenes, split, seed, image_size, min_objects, max_objects)
    pairs: list[Pair] = []
    for scene in world:
        pairs.append(Pair(item=f"{split}-{scene.index}", caption=scene.caption, image=scene.image, is_foil=False,
                          group="true"))
        for kind in kinds or world.foil_kinds:
            foil = scene.foils.get(kind)
            if foil is not None:
                pairs.append(Pair(item=f"{split}-{scene.index}-{kind}", caption=foil.caption, image=scene.image,
                                  is_foil=True, foil_index=foil.word_index, group=kind,
                                  region=scene.foiled_box(kind)))
    return pairs


def demo_pairs(n_scenes: int) -> list[Pair]:
    """A few test scenes, each with its true caption and one foil (the kinds take turns)."""
    world = shapes_scenes(n_scenes)
    pairs: list[Pair] = []
    for i, scene in enumerate(world):
        kind = world.foil_kinds[i % len(world.foil_kinds)]
        foil = scene.foils[kind]
        pairs += [Pair(item=f"scene-{scene.index}", caption=scene.caption, image=scene.image, is_foil=False,
                       group="true"),
                  Pair(item=f"scene-{scene.index}-{kind}", caption=foil.caption, image=scene.image, is_foil=True,
                       foil_index=foil.word_index, group=kind)]
    return pairs


def gather_pairs(params: PairsFields) -> PairSet:
    """The pairs a task runs on; 'image' and 'pairs' are exclusive, neither means the shapes-world demo."""
    if params.image and params.pairs:
        raise ValueError("give either 'image' (with 'caption') or 'pairs', not both")
    if params.image:
        return PairSet(pairs=[Pair(item="pair", caption=params.caption, image_path=params.image)])
    if params.caption:
        raise ValueError("'caption' needs 'image': the image file the caption describes")
    if params.pairs:
        return read_pairs(params.pairs, params.image_root)
    return PairSet(pairs=demo_pairs(params.demo_scenes))
