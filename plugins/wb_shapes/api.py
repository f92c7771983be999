"""The shapes plugin's public library: prompts with ground truth and the independent checker that judges
text-to-image samples against them (tasks that use it declare ``requires=("shapes-clip",)``).

``heldout_prompts`` gives test-split prompts, ``render_prompts`` the world's own drawing of them, and
``judge(images, specs)`` (or ``load_checker(device).judge``) says which pictures follow their prompt.
"""

from wb_shapes.judge import (
    CheckerReading,
    JudgeResult,
    PromptSpec,
    ShapesJudge,
    heldout_prompts,
    judge,
    load_checker,
    render_prompts,
)

__all__ = ["CheckerReading", "JudgeResult", "PromptSpec", "ShapesJudge", "heldout_prompts", "judge", "load_checker",
           "render_prompts"]
