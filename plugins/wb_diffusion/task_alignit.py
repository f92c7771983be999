"""Task ``diffusion.alignit``: base | customised | AlignIT on the same seeds, the cross-attention maps per token of
the customised and the AlignIT generation, and the per-token K/V drift of the customisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wb_diffusion import alignit
from wb_diffusion.params_align import AlignITParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.sampling import sample_seeds
from workbench.api import HeatmapGrid, ImageGrid, MetricsTable, Progress, RunContext, TokenScores, UserError


def load_customised(params: AlignITParams, device: str):
    """The customised pipeline: a DreamBooth folder, or the base with the embedding or LoRA file applied."""
    if params.customisation == "dreambooth":
        return load_pipeline(params.custom, device=device)
    path = Path(params.custom).expanduser()
    if not path.is_file():
        raise UserError(f"custom={params.custom}: no such file (a {params.customisation} file is expected)")
    pipe = load_pipeline(params.model, device=device)
    try:
        if params.customisation == "textual-inversion":
            pipe.load_textual_inversion(str(path), token=params.concept)
        else:
            pipe.load_lora_weights(str(path))
    except (ValueError, KeyError, RuntimeError, OSError) as exc:
        raise UserError(f"custom={params.custom}: not a usable {params.customisation} file for {params.model} "
                        f"({type(exc).__name__}: {exc})") from exc
    return pipe


def _maps(record: alignit.AttentionMaps, tokens: list[str], image: np.ndarray, title: str, name: str):
    maps = alignit.token_maps(record, len(tokens)).numpy()
    return HeatmapGrid(name=name, title=title, images=[image], heats=list(maps), labels=tokens, ncols=6,
                       caption="cross-attention per token, averaged over heads, steps, seeds and the finest layers")


def judged(params: AlignITParams, variants: dict[str, list[np.ndarray]]) -> MetricsTable:
    """The independent shapes checker on each variant: the concept's presence and the rest of the prompt's."""
    from wb_shapes.api import PromptSpec, load_checker

    spec = PromptSpec.parse(params.prompt.replace(params.concept, params.judge_as))
    concept_spec = PromptSpec.parse(params.judge_as)
    concept = concept_spec.objects
    if len(concept) != 1:
        raise UserError(f"judge_as={params.judge_as!r}: name one shapes object, e.g. 'red star'")
    rest = [i for i, obj in enumerate(spec.objects) if obj != concept[0]]
    checker = load_checker()
    rows = []
    for name, images in variants.items():
        verdict = checker.judge(images, [spec] * len(images))
        present = np.stack(verdict.object_probs) > 0.5
        concept_rate = float(np.mean(checker.presence(images, concept * len(images)) > 0.5))
        concept_colour = float(checker.judge(images, [concept_spec] * len(images)).colours_ok.mean())
        rest_rate = float(present[:, rest].mean()) if rest else float("nan")
        rows.append([name, round(concept_rate, 4), round(concept_colour, 4), round(rest_rate, 4),
                     round(float(verdict.follows.mean()), 4)])
    return MetricsTable(name="checker", title="Independent shapes checker: concept and the rest of the prompt",
                        columns=["variant", f"concept ({params.judge_as}) present", "concept's colour present",
                                 "other objects present", "prompt followed"], rows=rows,
                        notes=f"prompt read as {spec.caption!r}; {len(params.seeds)} seeds; present: checker "
                              "probability > 0.5; base reads the stand-in, not the concept")


def run(params: AlignITParams, ctx: RunContext):
    base = load_pipeline(params.model, device=ctx.device)
    custom = load_customised(params, ctx.device)
    inputs = alignit.prepare(base, custom, params.prompt, params.concept, template=params.template,
                             stand_in=params.stand_in or None, keys=params.splice_keys,
                             values=params.splice_values, conditional_only=not params.splice_unconditional,
                             end=params.end_rows)
    ctx.log(f"base branch reads {inputs.base_prompt!r}; concept prompt {inputs.concept_prompt!r}; concept rows "
            f"{inputs.dst} <- {inputs.src}")
    sampling = (params.seeds, params.steps, params.guidance, params.size, params.size)
    alignit.classic_attention(base.unet)
    base_images = sample_seeds(base, *sampling, prompt=inputs.base_prompt)
    yield Progress(0.3, "base done; sampling the customised model")
    custom_record = alignit.AttentionMaps()
    before = alignit.install_recorder(custom.unet, custom_record)
    custom_images = sample_seeds(custom, *sampling, prompt=params.prompt)
    alignit.restore(custom.unet, before)
    yield Progress(0.6, "customised done; sampling with AlignIT")
    aligned_record = alignit.AttentionMaps()
    before = alignit.install(custom.unet, base.unet, params.layers or None, aligned_record)
    try:
        aligned_images = sample_seeds(custom, *sampling, prompt_embeds=inputs.prompt_embeds,
                                      negative_prompt_embeds=inputs.negative_prompt_embeds,
                                      cross_attention_kwargs={"splice": inputs.splice})
    finally:
        alignit.restore(custom.unet, before)
    images, captions = [], []
    for seed, trio in zip(params.seeds, zip(base_images, custom_images, aligned_images)):
        images += list(trio)
        captions += [f"base, seed {seed}", f"{params.customisation}, seed {seed}", f"AlignIT, seed {seed}"]
    yield ImageGrid(name="comparison", title=f"{params.prompt!r}: base | customised | AlignIT (same seeds)",
                    images=images, captions=captions, ncols=3)
    ids = custom.tokenizer(params.prompt).input_ids
    tokens = [custom.tokenizer.convert_ids_to_tokens(i) for i in ids]
    drift = alignit.kv_drift(base, custom, params.prompt, inputs.base_prompt).numpy()
    flags = np.zeros(len(tokens), bool)
    flags[inputs.dst] = True
    yield TokenScores(name="kv-drift", title="K/V drift of the customised model per prompt token (AlignIT removes "
                                             "it from the non-concept tokens)", tokens=tokens, scores=drift,
                      flags=flags, threshold=0.0,
                      summary={"mean_drift_non_concept": float(drift[~flags].mean()) if (~flags).any() else 0.0,
                               "mean_drift_concept": float(drift[flags].mean())})
    if params.judge_as:
        yield judged(params, {"base": base_images, params.customisation: custom_images, "AlignIT": aligned_images})
    if params.attention_maps:
        yield _maps(custom_record, tokens, custom_images[0], "Cross-attention maps, customised",
                    "attention-customised")
        yield _maps(aligned_record, tokens, aligned_images[0], "Cross-attention maps, AlignIT",
                    "attention-alignit")
