"""Preference pairs: the Pick-a-Pic parquet and folder+JSONL readers, their errors, and the shapes generator."""

import io
import json

import numpy as np
import pytest

pytest.importorskip("diffusers")
pa = pytest.importorskip("pyarrow")

from wb_diffusion.preference import (  # noqa: E402
    PreferencePair,
    clip_cosine_reward,
    read_pairs,
    reward_ranked_pairs,
    shape_foil_pairs,
    shape_swap_pairs,
    write_pairs,
)
from workbench.api import UserError  # noqa: E402


def _image(value, size=(8, 8)):
    return np.full((*size, 3), value, np.uint8)


def _png(image):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _parquet(path, rows):
    import pyarrow.parquet as pq

    cols = {k: [r[k] for r in rows] for k in ("caption", "jpg_0", "jpg_1", "label_0")}
    pq.write_table(pa.table(cols), path)
    return path


def test_parquet_pairs_follow_label_0_and_drop_ties(tmp_path):
    rows = [{"caption": "a", "jpg_0": _png(_image(10)), "jpg_1": _png(_image(20)), "label_0": 1.0},
            {"caption": "b", "jpg_0": _png(_image(30)), "jpg_1": _png(_image(40)), "label_0": 0.0},
            {"caption": "c", "jpg_0": _png(_image(50)), "jpg_1": _png(_image(60)), "label_0": 0.5}]
    path = _parquet(tmp_path / "p.parquet", rows)
    pairs = read_pairs(path)
    assert [(p.caption, p.chosen[0, 0, 0], p.rejected[0, 0, 0]) for p in pairs] == [("a", 10, 20), ("b", 40, 30)]
    kept = read_pairs(path, keep_ties=True)
    assert len(kept) == 3 and kept[2].chosen[0, 0, 0] == 50 and kept[2].label_0 == 0.5


@pytest.mark.parametrize("row, message", [
    ({"label_0": 0.7}, r"row 0: label_0=0.7 is outside \{0, 0.5, 1\}"),
    ({"jpg_1": b"junk"}, "row 0: jpg_1 cannot be decoded"),
    ({"jpg_1": b""}, "row 0: jpg_1 holds no image"),
    ({"jpg_1": _png(_image(1, (8, 6)))}, r"row 0: the two images differ in size \(8x8 vs 6x8\)"),
])
def test_parquet_errors_name_the_file_and_row(tmp_path, row, message):
    good = {"caption": "a", "jpg_0": _png(_image(10)), "jpg_1": _png(_image(20)), "label_0": 1.0}
    path = _parquet(tmp_path / "bad.parquet", [{**good, **row}])
    with pytest.raises(UserError, match="bad.parquet " + message):
        read_pairs(path)


def test_parquet_without_pairs_or_columns_is_refused(tmp_path):
    import pyarrow.parquet as pq

    tie = {"caption": "a", "jpg_0": _png(_image(10)), "jpg_1": _png(_image(20)), "label_0": 0.5}
    with pytest.raises(UserError, match=r"ties.parquet: no preference pairs \(ties removed\)"):
        read_pairs(_parquet(tmp_path / "ties.parquet", [tie]))
    pq.write_table(pa.table({"caption": ["a"]}), tmp_path / "cols.parquet")
    with pytest.raises(UserError, match="missing column.*jpg_0, jpg_1, label_0"):
        read_pairs(tmp_path / "cols.parquet")


def test_mismatched_sizes_resize_under_the_stated_policy(tmp_path):
    row = {"caption": "a", "jpg_0": _png(_image(1, (6, 6))), "jpg_1": _png(_image(2, (8, 8))), "label_0": 0.0}
    (pair,) = read_pairs(_parquet(tmp_path / "r.parquet", [row]), sizes="resize")
    assert pair.chosen.shape == pair.rejected.shape == (8, 8, 3) and pair.rejected[0, 0, 0] == 1


def test_folder_round_trip_and_jsonl_errors(tmp_path):
    pairs = [PreferencePair(f"cap {i}", _image(i), _image(100 + i)) for i in range(6)]
    jsonl = write_pairs(pairs, tmp_path / "set", seed=1)
    labels = [json.loads(line)["label_0"] for line in jsonl.read_text().splitlines()]
    assert set(labels) == {0.0, 1.0}
    back = read_pairs(tmp_path / "set")
    assert [p.caption for p in back] == [p.caption for p in pairs]
    assert all(np.array_equal(a.chosen, b.chosen) and np.array_equal(a.rejected, b.rejected)
               for a, b in zip(pairs, back))
    (tmp_path / "set" / "images" / "000002_1.png").unlink()
    with pytest.raises(UserError, match=r"pairs.jsonl line 3: image_1 .*000002_1.png does not exist"):
        read_pairs(jsonl)
    jsonl.write_text('{"caption": "x", "image_0": "a.png", "image_1": "b.png", "label_0": 2}\n')
    with pytest.raises(UserError, match=r"line 1: label_0=2 is outside"):
        read_pairs(jsonl)
    jsonl.write_text("\n")
    with pytest.raises(UserError, match="no preference pairs"):
        read_pairs(jsonl)
    with pytest.raises(UserError, match="no such file"):
        read_pairs(tmp_path / "nowhere")


def test_shapes_pairs_pair_a_scene_with_a_drawn_foil(tmp_path):
    from workbench.api import load_sample

    pairs = shape_foil_pairs(8, seed=3, image_size=32)
    assert len(pairs) == 8
    scenes = load_sample("shapes", split="train", n=8, seed=3, image_size=32, min_objects=1, max_objects=1)
    by_caption = {s.caption: s for s in scenes}
    for pair in pairs:
        scene = by_caption[pair.caption]
        foil = pair.where.split("vs '")[1].rstrip("'")
        assert foil in {f.caption for f in scene.foils.values()}
        assert np.array_equal(pair.chosen, scene.image) and not np.array_equal(pair.rejected, scene.image)
    back = read_pairs(write_pairs(pairs, tmp_path / "shapes"))
    assert all(np.array_equal(a.rejected, b.rejected) for a, b in zip(pairs, back))


def test_shape_swap_pairs_redraw_the_same_scene_in_the_foil_shape():
    from workbench.api import load_sample

    pairs = shape_swap_pairs(8, seed=3)
    scenes = load_sample("shapes", split="train", n=16, seed=3, image_size=32, min_objects=1, max_objects=1)
    by_caption = {s.caption: s for s in scenes}
    assert len(pairs) == 8
    for pair in pairs:
        scene = by_caption[pair.caption]
        swapped = pair.where.split("vs '")[1].rstrip("'")
        assert swapped == scene.foils["shape"].caption
        assert np.array_equal(pair.chosen, scene.image) and not np.array_equal(pair.rejected, scene.image)
        assert (pair.rejected == pair.chosen).all(-1).mean() > 0.8  # the same background: only the object moved
    with pytest.raises(UserError, match="n=0"):
        shape_swap_pairs(0)


def test_reward_ranked_pairs_put_the_higher_clip_cosine_first():
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    from wb_diffusion.tiny import tiny_sd_pipeline
    from workbench.api import load_clip

    clip = load_clip("tiny-clip")
    pairs = reward_ranked_pairs(tiny_sd_pipeline(seed=0), ["a red circle", "a small blue star"],
                                clip_cosine_reward(clip), steps=2)
    assert len(pairs) == 2 and pairs[0].chosen.shape == (32, 32, 3)
    for pair in pairs:
        with torch.no_grad():
            text = clip.encode_text([pair.caption])
            cos = (clip.encode_image([pair.chosen, pair.rejected]) @ text.T).squeeze(1)
        assert cos[0] >= cos[1]


def test_reward_ranked_pairs_take_the_best_and_worst_of_k_samples_and_drop_near_ties():
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    from wb_diffusion.sampling import sample_seeds
    from wb_diffusion.tiny import tiny_sd_pipeline
    from workbench.api import load_clip

    clip, pipe = load_clip("tiny-clip"), tiny_sd_pipeline(seed=0)
    captions = ["a red circle", "a small blue star", "a large green square"]
    pairs = reward_ranked_pairs(pipe, captions, clip_cosine_reward(clip), seed=5, steps=2, k=3)
    gaps = []
    for i, (caption, pair) in enumerate(zip(captions, pairs, strict=True)):
        images = sample_seeds(pipe, [5 + 3 * i + j for j in range(3)], 2, 5.0, prompt=caption)
        with torch.no_grad():
            cos = (clip.encode_image(images) @ clip.encode_text([caption]).T).squeeze(1)
        assert np.array_equal(pair.chosen, images[int(cos.argmax())])
        assert np.array_equal(pair.rejected, images[int(cos.argmin())])
        gaps.append(float(cos.max() - cos.min()))
    cut = sorted(gaps)[1]
    kept = reward_ranked_pairs(pipe, captions, clip_cosine_reward(clip), seed=5, steps=2, k=3, min_margin=cut - 1e-6)
    assert [p.caption for p in kept] == [c for c, g in zip(captions, gaps) if g >= cut - 1e-6] and len(kept) == 2
    with pytest.raises(UserError, match="k=1"):
        reward_ranked_pairs(pipe, captions, clip_cosine_reward(clip), k=1)


def test_several_pairs_per_caption_pair_the_ith_best_with_the_ith_worst():
    """pairs_per_caption=2 of k=5 samples: best vs worst, then 2nd best vs 2nd worst; the median sample is in no
    pair, no sample in two; more pairs than k/2 is refused, in the function and in the task's parameters."""
    pytest.importorskip("torch")
    from wb_diffusion.params_pref import MakePairsParams
    from wb_diffusion.sampling import sample_seeds
    from wb_diffusion.tiny import tiny_sd_pipeline

    pipe, caption = tiny_sd_pipeline(seed=0), "a small blue star"
    reward = lambda images, _: [float(im.astype(np.float64).mean()) for im in images]  # noqa: E731  brightness
    first, second = reward_ranked_pairs(pipe, [caption], reward, seed=3, steps=2, k=5, per_caption=2)
    images = sample_seeds(pipe, [3, 4, 5, 6, 7], 2, 5.0, prompt=caption)
    order = np.argsort([-s for s in reward(images, caption)])
    for pair, (best, worst) in zip((first, second), ((order[0], order[4]), (order[1], order[3])), strict=True):
        assert np.array_equal(pair.chosen, images[best]) and np.array_equal(pair.rejected, images[worst])
    (only,) = reward_ranked_pairs(pipe, [caption], reward, seed=3, steps=2, k=5)
    assert np.array_equal(only.chosen, first.chosen) and np.array_equal(only.rejected, first.rejected)
    with pytest.raises(UserError, match="pairs_per_caption=3"):
        reward_ranked_pairs(pipe, [caption], reward, k=5, per_caption=3)
    with pytest.raises(ValueError, match="pairs_per_caption=3: at most k/2 = 2"):
        MakePairsParams(source="samples", k=5, pairs_per_caption=3)


def test_a_zoo_reward_model_ranks_the_samples_when_named_as_the_reward():
    """``reward=shapes-reward`` scores with the reward model (its log-likelihood), ``reward=tiny-clip`` with the
    CLIP's cosine: the pair's chosen picture is the one the named reward scores highest."""
    pytest.importorskip("open_clip")
    from wb_diffusion.task_pref import ranking_reward
    from wb_diffusion.tiny import tiny_sd_pipeline
    from wb_shapes.reward import load_reward

    model, caption = load_reward(), "a small blue star"
    reward = ranking_reward("shapes-reward", "cpu")
    (pair,) = reward_ranked_pairs(tiny_sd_pipeline(seed=0), [caption], reward, steps=2, k=3)
    chosen, rejected = model.score([pair.chosen, pair.rejected], caption)
    assert chosen >= rejected and all(v <= 0 for v in (chosen, rejected))
    assert pair.where.endswith(f"(reward {chosen:.3f} vs {rejected:.3f})")
    import torch

    from workbench.api import load_clip

    clip = load_clip("tiny-clip")
    with torch.no_grad():
        expected = float(clip.encode_image([pair.chosen])[0] @ clip.encode_text([caption])[0])
    assert ranking_reward("tiny-clip", "cpu")([pair.chosen], caption)[0] == pytest.approx(expected, abs=1e-6)


def test_a_zoo_model_that_cannot_score_is_refused_as_the_reward():
    from wb_diffusion.task_pref import ranking_reward

    with pytest.raises(UserError, match="reward=shapes-checker: this zoo model is neither a CLIP nor a reward model"):
        ranking_reward("shapes-checker", "cpu")
    with pytest.raises(UserError, match="no-such-clip"):
        ranking_reward("no-such-clip", "cpu")
