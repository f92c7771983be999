"""Where a task's pairs come from: one image + caption, a pairs file or folder, or shapes-world demo scenes."""

from __future__ import annotations

from wb_clipmap.params import PairsFields
from wb_clipmap.readers import Pair, PairSet, read_pairs
from wb_shapes.world import FOIL_KINDS, Foil, Scene, generate_scenes


def shapes_pairs(n_scenes: int, split: str = "test", seed: int = 0, image_size: int = 64, min_objects: int = 2,
                 max_objects: int = 3, kinds: tuple[str, ...] | list[str] = FOIL_KINDS) -> list[Pair]:
    """Each scene's true caption and its one-word foils (of ``kinds``), with the swapped word's index."""
    pairs: list[Pair] = []
    for scene in generate_scenes(n_scenes, split, seed, image_size, min_objects, max_objects):
        pairs.append(Pair(item=f"{split}-{scene.index}", caption=scene.caption, image=scene.image, is_foil=False,
                          group="true"))
        for kind in kinds:
            foil = scene.foils.get(kind)
            if foil is not None:
                pairs.append(Pair(item=f"{split}-{scene.index}-{kind}", caption=foil.caption, image=scene.image,
                                  is_foil=True, foil_index=foil.word_index, group=kind,
                                  region=_foiled_box(scene, foil) if kind != "relation" else None))
    return pairs


def _foiled_box(scene: Scene, foil: Foil) -> tuple[float, float, float, float]:
    """The box of the object whose size, colour or shape word the foil swapped (objects in caption order)."""
    words = foil.caption.split()
    obj = sum(1 for w in words[: foil.word_index] if w == "a") - 1
    return tuple(float(v) for v in scene.objects[obj].box)


def demo_pairs(n_scenes: int) -> list[Pair]:
    """A few test scenes, each with its true caption and one foil (the kinds take turns)."""
    pairs: list[Pair] = []
    for i, scene in enumerate(generate_scenes(n_scenes, "test", 0, 64, 2, 3)):
        kind = FOIL_KINDS[i % len(FOIL_KINDS)]
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
