"""Task ``diffusion.longalign-evaluate``: do the objects a long prompt describes late appear?

The prompts are the long captions of held-out shapes scenes with 3-4 objects after a preamble of generic
sentences, so the objects described last start past the 77-token context. Each is
sampled with the plain (truncated) encoding and with LongAlign's segment encoding on the same seeds; the
independent shapes checker (``wb_shapes.api``, trained on the world's ground truth, not a CLIP) says which named
objects are present. An object is *late* when its first mention starts past the context. The tiny CLIP's reward
and its omega split are reported beside, to see reward and checker move together or apart.
"""

from __future__ import annotations

import numpy as np
import torch

from wb_diffusion.longalign import segment_prompt_embeds
from wb_diffusion.lora import load_lora
from wb_diffusion.params_align import LongAlignEvaluateParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.reward_split import split_score
from wb_diffusion.reward_tune import ClipReward
from wb_diffusion.sampling import sample_seeds
from workbench.api import ImagePairs, MetricsTable, Progress, RunContext

THRESHOLD = 0.5


def late_objects(tokenizer, caption: str, objects) -> np.ndarray:
    """Per object: does its first ``colour shape`` mention start past the tokenizer's context?"""
    context = tokenizer.model_max_length - 1
    late = []
    for colour, shape in objects:
        at = caption.find(f"{colour} {shape}")
        start = len(tokenizer(caption[:at]).input_ids) - 1 if at >= 0 else context
        late.append(start >= context)
    return np.array(late)


def run(params: LongAlignEvaluateParams, ctx: RunContext):
    from wb_shapes.api import heldout_prompts, load_checker

    pipe = load_pipeline(params.model, device=ctx.device)
    if params.lora:
        load_lora(pipe, params.lora)
    side = pipe.unet.config.sample_size * pipe.vae_scale_factor
    specs = heldout_prompts(params.n_prompts, seed=params.data_seed, image_size=side, min_objects=3, max_objects=4)
    checker = load_checker(ctx.device)
    reward = ClipReward("tiny-clip", ctx.device)
    sampling = (params.seeds, params.steps, params.guidance)
    totals = {name: {"late": [], "early": [], "follows": [], "raw": [], "reweighted": []}
              for name in ("plain", "segments")}
    pairs_left, pairs_right, captions = [], [], []
    for k, spec in enumerate(specs):
        prompt = f"{params.preamble} {spec.long_caption}".strip()
        late = late_objects(pipe.tokenizer, prompt, spec.objects)
        embeds, negative = segment_prompt_embeds(pipe, [prompt], split=params.split,
                                                 token_length=params.token_length)
        images = {"plain": sample_seeds(pipe, *sampling, prompt=prompt),
                  "segments": sample_seeds(pipe, *sampling, prompt_embeds=embeds, negative_prompt_embeds=negative)}
        for name, pictures in images.items():
            verdict = checker.judge(pictures, [spec] * len(pictures))
            present = np.stack(verdict.object_probs) > THRESHOLD
            totals[name]["late"] += present[:, late].ravel().tolist()
            totals[name]["early"] += present[:, ~late].ravel().tolist()
            totals[name]["follows"] += verdict.follows.tolist()
            with torch.no_grad():
                pixels = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).float().div(255).to(ctx.device)
                text = reward.texts([prompt] * len(pictures), segments=True)
                split = split_score(reward.images(pixels), text, params.omega)
            totals[name]["raw"] += split.raw.tolist()
            totals[name]["reweighted"] += split.score.tolist()
        if k < 4:
            pairs_left += images["plain"][:1]
            pairs_right += images["segments"][:1]
            captions.append(f"{len(late)} objects, {int(late.sum())} late: {prompt[:60]}...")
        yield Progress((k + 1) / len(specs), f"prompt {k + 1}/{len(specs)}")

    def rate(values: list) -> float:
        return round(float(np.mean(values)), 4) if values else float("nan")

    rows = [[name, rate(t["late"]), len(t["late"]), rate(t["early"]), rate(t["follows"]), rate(t["raw"]),
             rate(t["reweighted"])] for name, t in totals.items()]
    yield MetricsTable(
        name="late-objects", title="Late-described objects present (independent shapes checker)",
        columns=["encoding", "late objects present", "late objects", "early objects present", "prompt followed",
                 "CLIP reward (raw)", f"CLIP reward (omega {params.omega})"],
        rows=rows,
        notes=f"{len(specs)} held-out test scenes with 3-4 objects, long captions as prompts, seeds {params.seeds}, "
              f"{params.steps} steps, guidance {params.guidance}; an object is late when its first mention starts "
              f"past token {pipe.tokenizer.model_max_length - 1}; present: checker probability > {THRESHOLD}"
              + (f"; LoRA {params.lora}" if params.lora else ""))
    yield ImagePairs(name="plain-vs-segments", title="Plain (truncated) vs segment encoding, first seed",
                     left=pairs_left, right=pairs_right, captions=captions, left_label="plain",
                     right_label="segments")
