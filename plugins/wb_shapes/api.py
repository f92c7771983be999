"""The shapes plugin's public library: prompts with ground truth and the independent checker that judges
text-to-image samples against them (tasks that use it declare ``requires=("shapes-clip",)``).

``heldout_prompts`` gives test-split prompts, ``render_prompts`` the world's own drawing of them, and
``judge(images, specs)`` (or ``load_checker(device).judge``) says which pictures follow their prompt;
``load_checker(device).presence(images, pairs)`` the probability that each picture shows a ``(colour, shape)``.
``shape_counterfactual`` redraws a scene with one object in another shape (a hard negative picture).
``load_reward(...).score(images, caption)`` is the reward model's log-likelihood of the caption's colours, shapes and
count per picture (a reward that sees shape, kept apart from the checker that judges).
"""

from wb_shapes.checker import MapReading
from wb_shapes.judge import (
    JudgeResult,
    PromptSpec,
    ShapesJudge,
    heldout_prompts,
    judge,
    load_checker,
    render_prompts,
)
from wb_shapes.reward import AttributeReward, load_reward
from wb_shapes.world import shape_counterfactual

__all__ = ["AttributeReward", "JudgeResult", "MapReading", "PromptSpec", "ShapesJudge", "heldout_prompts", "judge",
           "load_checker", "load_reward", "render_prompts", "shape_counterfactual"]
