"""Task ``diffusion.evaluate``: how well a text-to-image model follows held-out shapes prompts.

Prompts are captions of shapes test scenes; every source draws one image per (prompt, seed) with the same seeds.
Scores: the tiny CLIP reward (cosine between image and prompt embeddings) and, when the shapes plugin's independent
checker is installed, the share of images it judges to show the prompt. With a second source (a tuned model, or the
same model with a LoRA) the table puts base and tuned side by side and the pairs show base | tuned.
"""

from __future__ import annotations

import numpy as np
import torch

from wb_diffusion.params_base import EvaluateParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.sampling import Sample, generate, sample_batches, use_scheduler
from wb_diffusion.shapes_batches import scene_batch
from workbench.api import ImageGrid, ImagePairs, MetricsTable, Progress, RunContext, UserError, load_clip

CHECKER_PARTS = ("follows", "colours_ok", "shapes_ok", "count_ok")
PROMPT_BATCHES = 64  # of 64 test scenes each, searched for distinct captions
BOOTSTRAP_RESAMPLES = 2000


def held_out_prompts(params: EvaluateParams) -> list[str]:
    """Distinct captions of shapes test scenes, in scene order (a caption drawn twice counts once)."""
    prompts: dict[str, None] = {}
    for start in range(PROMPT_BATCHES):
        _, captions = scene_batch(start, 64, params.data_seed, 32, params.max_objects, split="test")
        prompts.update(dict.fromkeys(captions))
        if len(prompts) >= params.n_prompts:
            return list(prompts)[: params.n_prompts]
    raise UserError(f"n_prompts={params.n_prompts}: the first {PROMPT_BATCHES * 64} shapes test scenes with up to "
                    f"{params.max_objects} object(s) have only {len(prompts)} distinct captions")


def clip_reward(clip, images: list[np.ndarray], prompts: list[str]) -> np.ndarray:
    """Per-image cosine between the CLIP embeddings of the image and of its prompt."""
    with torch.no_grad():
        a = clip.encode_image(images)
        b = clip.encode_text(prompts)
    return (a * b).sum(-1).cpu().numpy()


def checker_rates(images: list[np.ndarray], prompts: list[str]) -> tuple[dict[str, float], np.ndarray | None]:
    """The independent shapes checker's verdicts (``wb_shapes.api.judge``): share of images that follow their
    prompt (right count, every named colour-shape present) and of each part, and the per-image follows verdicts;
    empty and None without the checker."""
    try:
        from wb_shapes.api import PromptSpec, judge
    except ImportError:
        return {}, None
    verdicts = judge(np.stack(images), [PromptSpec.parse(p) for p in prompts])
    rates = verdicts.rate()
    return {k: rates[k] for k in CHECKER_PARTS}, np.asarray(verdicts.follows, dtype=float)


def paired_gap(diff: np.ndarray, prompts: list[str], resamples: int = BOOTSTRAP_RESAMPLES,
               seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-image differences (tuned - base, same prompt and seed) and its 95 % paired-bootstrap interval;
    whole prompts are resampled, as one prompt's seeds are not independent of each other."""
    names = list(dict.fromkeys(prompts))
    index = np.array([names.index(p) for p in prompts])
    sums = np.bincount(index, weights=diff, minlength=len(names))
    per_prompt = np.bincount(index, minlength=len(names))
    draws = np.random.default_rng(seed).integers(len(names), size=(resamples, len(names)))
    boot = sums[draws].sum(1) / per_prompt[draws].sum(1)
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(diff.mean()), float(low), float(high)


def _sources(params: EvaluateParams) -> list[tuple[str, str, str]]:
    base = (params.model + (f" + {params.lora}" if params.lora else ""), params.model, params.lora)
    if not (params.tuned_model or params.tuned_lora):
        return [base]
    model = params.tuned_model or params.model
    return [base, (model + (f" + {params.tuned_lora}" if params.tuned_lora else ""), model, params.tuned_lora)]


def run(params: EvaluateParams, ctx: RunContext):
    prompts = held_out_prompts(params)
    samples = [Sample(p, s, params.steps, params.guidance_scale, params.scheduler) for p in prompts
               for s in params.seeds]
    clip = load_clip(params.clip, device=ctx.device)
    sources = _sources(params)
    drawn, rows, scores = [], [], []
    for k, (label, model, lora) in enumerate(sources):
        pipe = load_pipeline(model, device=ctx.device, config=params.config, lora=lora)
        use_scheduler(pipe, params.scheduler)
        images = []
        for batch in sample_batches(samples, params.batch_size):
            ctx.check_cancelled()
            images += generate(pipe, batch, params.height, params.width, params.batch_size)
            yield Progress((k * len(samples) + len(images)) / (len(sources) * len(samples)),
                           f"{label}: image {len(images)}")
        reward = clip_reward(clip, images, [s.prompt for s in samples])
        try:
            rates, follows = checker_rates(images, [s.prompt for s in samples])
        except UserError as exc:
            ctx.log(f"the shapes checker could not judge: {exc}")
            rates, follows = {}, None
        scores.append({"clip_reward": reward, "checker_follows": follows})
        rows.append([label, round(float(reward.mean()), 4), round(float(reward.std()), 4),
                     *(round(rates[k], 4) if rates else "n/a" for k in CHECKER_PARTS)])
        drawn.append(images)
        ctx.log(f"{label}: CLIP reward {reward.mean():.4f}, checker {rates or 'not installed'}")
    captions = [f"{s.prompt} (seed {s.seed})" for s in samples]
    if len(drawn) == 2:
        yield ImagePairs(name="base-vs-tuned", title="Same prompts and seeds: base | tuned", left=drawn[0],
                         right=drawn[1], captions=captions, left_label=sources[0][0], right_label=sources[1][0])
    else:
        yield ImageGrid(name="samples", title=f"{sources[0][0]} on held-out prompts", images=drawn[0],
                        captions=captions, ncols=max(1, len(params.seeds)))
    yield MetricsTable(name="prompt-following", title="Prompt following on held-out shapes prompts",
                       columns=["model", "clip_reward", "clip_reward_std",
                                *(f"checker_{k.removesuffix('_ok')}" for k in CHECKER_PARTS)], rows=rows,
                       notes=f"{len(prompts)} test-scene captions x seeds {params.seeds}; {params.scheduler}, "
                             f"{params.steps} steps, guidance {params.guidance_scale}; reward = {params.clip} "
                             "image/text cosine")
    if len(scores) == 2:
        yield _gap_table(scores, [s.prompt for s in samples])


def _gap_table(scores: list[dict[str, np.ndarray | None]], prompts: list[str]) -> MetricsTable:
    rows = [[name, *(round(v, 4) for v in paired_gap(scores[1][name] - scores[0][name], prompts))]
            for name in scores[0] if scores[0][name] is not None and scores[1][name] is not None]
    return MetricsTable(name="tuned-minus-base", title="Tuned - base on the same prompts and seeds",
                        columns=["measure", "gap", "ci95_low", "ci95_high"], rows=rows,
                        notes=f"paired bootstrap over the {len(set(prompts))} prompts ({BOOTSTRAP_RESAMPLES} "
                              "resamples): an interval that spans 0 is within the noise")
