"""The shapes reward model: the zoo model prefers a scene's caption to its foils on a world draw it never trained
on, its reward is the log-likelihood the docstring says, bad input is refused clearly, and training resumes exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wb_shapes.api import PromptSpec
from wb_shapes.reward import AttributeReward, foil_preference, load_reward
from wb_shapes.world import COLOURS, SHAPES, generate_scenes
from workbench.api import UserError
from workbench.core.runstore import RunStore


@pytest.fixture(scope="module")
def reward():
    return load_reward()


@pytest.fixture(scope="module")
def one_object_scenes():
    return generate_scenes(200, "test", seed=0, image_size=32, min_objects=1, max_objects=1)


def test_the_reward_task_card_and_recipe_are_registered():
    from workbench.api import find_recipe, load_zoo_model, zoo_card
    from workbench.core.plugins import PluginHost

    spec = PluginHost().registry.tasks.find("shapes.train-reward")
    assert spec is not None and spec.entry == "wb_shapes.train_reward:run"
    card = zoo_card("shapes-reward")
    assert card.plugin == "shapes-clip" and card.recipe == "zoo-shapes-reward"
    assert find_recipe("zoo-shapes-reward").is_file()
    assert card.metrics["prefers_caption_to_shape_foil"] >= 0.8
    assert isinstance(load_zoo_model("shapes-reward"), AttributeReward)


def test_it_prefers_the_caption_to_its_foils_on_a_world_draw_it_never_trained_on(reward, one_object_scenes):
    """Seed 0 scenes (the reward model learnt seed 1): the caption beats its colour foil nearly always and its
    shape foil most of the time; a picture of another scene does not beat the scene's own."""
    images = np.stack([s.image for s in one_object_scenes])
    captions = [s.caption for s in one_object_scenes]
    assert foil_preference(reward, images, captions, [s.foils["colour"].caption for s in one_object_scenes]) >= 0.95
    assert foil_preference(reward, images, captions, [s.foils["shape"].caption for s in one_object_scenes]) >= 0.8
    own = [reward.score([im], c)[0] for im, c in zip(images, captions)]
    shuffled = [reward.score([im], c)[0] for im, c in zip(np.roll(images, 1, axis=0), captions)]
    assert np.mean(np.array(own) > np.array(shuffled)) >= 0.85


def test_the_reward_is_the_log_likelihood_of_the_named_attributes(reward, one_object_scenes):
    """Written out from the logits: mean over named objects of log sigma(colour) + log sigma(shape), plus the
    count's log-softmax; a log-likelihood, so never above 0."""
    images = np.stack([s.image for s in one_object_scenes[:6]])
    caption = "a red circle and a blue star"
    spec = PromptSpec.parse(caption)
    got = torch.tensor(reward.score(images, caption))
    with torch.no_grad():
        logits = reward(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    colours, shapes = list(COLOURS), list(SHAPES)
    n_c, n_s = len(colours), len(shapes)
    expected = torch.stack([
        (F.logsigmoid(logits[:, colours.index(c)]) + F.logsigmoid(logits[:, n_c + shapes.index(s)]))
        for c, s in spec.objects]).mean(0) + F.log_softmax(logits[:, n_c + n_s:], 1)[:, 1]
    torch.testing.assert_close(got, expected)
    assert (got <= 0).all()


def test_bad_input_is_refused_clearly(reward):
    with pytest.raises(UserError, match=r"shape \(N, H, W, 3\)"):
        reward.score(np.zeros((2, 32, 32), np.uint8), "a red circle")
    with pytest.raises(UserError, match="a red blob"):
        reward.score(np.zeros((1, 32, 32, 3), np.uint8), "a red blob")


TINY = {"steps": 4, "batch_size": 8, "checkpoint_every": 2, "eval_every": 100, "eval_scenes": 10, "threads": 1,
        "width": 4}


def test_training_resumes_exactly_and_writes_a_loadable_reward_model(resumes_exactly):
    a, resumed = resumes_exactly("shapes.train-reward", TINY)
    card = json.loads((resumed / "artifacts" / "card.json").read_text())
    assert card["id"] == "shapes-reward" and {"shape_accuracy", "prefers_caption_to_shape_foil"} <= set(card["metrics"])
    assert "held-out" in {r.name for r in RunStore.results(resumed)}
    reloaded = load_reward(resumed / "artifacts" / "model.safetensors")
    for key, value in a["model"].items():
        assert torch.equal(reloaded.state_dict()[key], value), key
    assert len(reloaded.score(np.zeros((3, 32, 32, 3), np.uint8), "a red circle")) == 3
