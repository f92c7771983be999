"""The shapes world generator: determinism, ground truth, captions, foils, splits and held-out combinations."""

from __future__ import annotations

import numpy as np
import pytest

from wb_shapes.world import (
    COLOURS,
    FOIL_KINDS,
    HELDOUT_COMBOS,
    OPPOSITE,
    SHAPES,
    SIZES,
    generate_scenes,
    load_scenes,
    make_scene,
    scene_rng,
    shape_counterfactual,
)


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(100, "train", seed=3) + generate_scenes(100, "test", seed=3)


def test_vocabulary_is_large_enough():
    assert len(COLOURS) >= 8 and len(SHAPES) >= 6 and len(SIZES) >= 2
    assert all(c in COLOURS and s in SHAPES for c, s in HELDOUT_COMBOS)


def test_same_seed_same_scene_other_seed_other_scene():
    a, b = make_scene(7, "train", 11), make_scene(7, "train", 11)
    assert np.array_equal(a.image, b.image) and a.caption == b.caption and a.foils == b.foils
    assert np.array_equal(a.boxes, b.boxes)
    c = make_scene(8, "train", 11)
    assert not np.array_equal(a.image, c.image)


def test_splits_draw_from_disjoint_seed_streams():
    draws = {split: scene_rng(0, split, 5).integers(0, 2**62, 4).tolist() for split in ("train", "test", "novel")}
    assert len({tuple(v) for v in draws.values()}) == 3
    train = generate_scenes(40, "train", 0)
    test = generate_scenes(40, "test", 0)
    assert not any(np.array_equal(a.image, b.image) for a in train for b in test)
    with pytest.raises(ValueError, match="split"):
        scene_rng(0, "validation", 0)


def test_scene_ground_truth(scenes):
    for scene in scenes:
        assert scene.image.shape == (64, 64, 3) and scene.image.dtype == np.uint8
        assert 1 <= len(scene.objects) <= 4
        assert scene.boxes.shape == (len(scene.objects), 4)
        for obj in scene.objects:
            x0, y0, x1, y1 = obj.box
            assert 0 <= x0 < obj.centre[0] < x1 <= 64 and 0 <= y0 < obj.centre[1] < y1 <= 64


def test_object_centre_pixel_has_its_colour():
    # every shape is filled at its centre, so the pixel there is the object's colour (known answer)
    for scene in generate_scenes(60, "test", 1, min_objects=1, max_objects=1):
        obj = scene.objects[0]
        x, y = int(round(obj.centre[0])), int(round(obj.centre[1]))
        assert np.abs(scene.image[y, x].astype(int) - np.array(COLOURS[obj.colour])).max() <= 3, obj


def test_relation_word_matches_the_geometry(scenes):
    for scene in [s for s in scenes if len(s.objects) > 1]:
        a, b = scene.objects[:2]
        dx, dy = a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]
        expected = ("above" if dy < 0 else "below") if abs(dy) >= abs(dx) else ("left" if dx < 0 else "right")
        assert scene.relation == expected
        assert expected in scene.caption.split()


def test_short_caption_names_every_object(scenes):
    for scene in scenes:
        for obj in scene.objects:
            assert obj.phrase in scene.caption
        assert scene.caption == scene.caption.lower() and "," not in scene.caption


def test_long_caption_has_sentences_and_runs_past_77_tokens_for_big_scenes():
    from open_clip import get_tokenizer

    tokenizer = get_tokenizer("ViT-B-32")
    scenes = generate_scenes(30, "test", 2, min_objects=4, max_objects=4)
    for scene in scenes:
        assert scene.long_caption.count(". ") >= 2 and scene.long_caption.endswith(".")
        assert len(tokenizer.encode(scene.long_caption)) + 2 > 77
    small = generate_scenes(10, "test", 2, min_objects=1, max_objects=1)
    assert all(s.long_caption.count(".") >= 3 for s in small)


def test_foil_differs_in_exactly_one_word_at_its_index(scenes):
    kinds_seen = set()
    for scene in scenes:
        words = scene.caption.split()
        expected = set(FOIL_KINDS) if len(scene.objects) > 1 else set(FOIL_KINDS) - {"relation"}
        assert set(scene.foils) == expected
        for kind, foil in scene.foils.items():
            kinds_seen.add(kind)
            fwords = foil.caption.split()
            assert len(fwords) == len(words)
            diff = [i for i, (u, v) in enumerate(zip(words, fwords)) if u != v]
            assert diff == [foil.word_index]
            assert words[foil.word_index] == foil.original_word and fwords[foil.word_index] == foil.new_word
            vocab = {"colour": COLOURS, "shape": SHAPES, "size": SIZES, "relation": OPPOSITE}[kind]
            assert foil.original_word in vocab and foil.new_word in vocab
    assert kinds_seen == set(FOIL_KINDS)


def test_colour_and_shape_foils_are_false_for_the_scene(scenes):
    for scene in scenes:
        assert scene.foils["colour"].new_word not in {o.colour for o in scene.objects}
        assert scene.foils["shape"].new_word not in {o.shape for o in scene.objects}
        if scene.relation:
            assert scene.foils["relation"].new_word == OPPOSITE[scene.relation]


def test_heldout_combinations_never_in_train_or_test_and_always_in_novel():
    for split in ("train", "test"):
        for scene in generate_scenes(250, split, 0):
            assert not scene.combos & HELDOUT_COMBOS, (split, scene.index, scene.caption)
    novel = generate_scenes(100, "novel", 0)
    assert all((s.objects[0].colour, s.objects[0].shape) in HELDOUT_COMBOS for s in novel)
    assert len({(s.objects[0].colour, s.objects[0].shape) for s in novel}) == len(HELDOUT_COMBOS)


def test_shape_counterfactual_pictures_the_shape_foil_and_changes_nothing_else(scenes):
    drawn = 0
    for scene in scenes:
        foil = scene.foils["shape"]
        cf = shape_counterfactual(scene, seed=3)
        if cf is None:
            target = scene.objects[foil.object_index]
            assert (target.colour, foil.new_word) in HELDOUT_COMBOS
            continue
        drawn += 1
        assert cf.caption == foil.caption and cf.background == scene.background
        assert [o.shape for o in cf.objects][foil.object_index] == foil.new_word
        assert [o.centre for o in cf.objects] == [o.centre for o in scene.objects]
        assert not cf.combos & HELDOUT_COMBOS
        changed = np.abs(cf.image.astype(int) - scene.image.astype(int)).max(-1) > 0
        assert changed.any()
        x0, y0, x1, y1 = scene.objects[foil.object_index].box
        ys, xs = np.nonzero(changed)
        assert xs.min() >= np.floor(x0) - 1 and xs.max() <= np.ceil(x1) and ys.min() >= np.floor(y0) - 1
        assert ys.max() <= np.ceil(y1)
    assert drawn > len(scenes) * 0.8


def test_object_count_bounds_are_checked():
    with pytest.raises(ValueError, match="min_objects"):
        make_scene(0, min_objects=0)
    assert all(len(s.objects) == 2 for s in generate_scenes(10, "test", 0, min_objects=2, max_objects=2))


def test_the_sample_is_served_by_id_as_typed_captioned_scenes():
    from workbench.api import CaptionedScene, CaptionedScenes, load_sample, resolve_entry, sample_spec

    spec = sample_spec("shapes")
    assert resolve_entry(spec.loader) is load_scenes and spec.kind == "captioned-scenes"
    world = load_sample("shapes", split="train", n=8, seed=0)
    assert isinstance(world, CaptionedScenes) and len(world) == 8 and isinstance(world[0], CaptionedScene)
    assert world[0].caption == make_scene(0, "train", 0).caption
    assert set(world.vocabulary) >= {"colour", "shape"} and world.foil_kinds == FOIL_KINDS
    for scene in world:
        for kind, foil in scene.foils.items():
            if kind == "relation":
                assert foil.object_index is None and scene.foiled_box(kind) is None
            else:
                obj = scene.objects[foil.object_index]
                assert foil.original_word in obj.label.split() and scene.foiled_box(kind) == obj.box
