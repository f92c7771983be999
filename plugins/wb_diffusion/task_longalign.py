"""Task ``diffusion.longalign-encode``: a long prompt's LongAlign segment encoding, its segment table and token map,
and images from the plain (77-token, truncated) and the segment encoding on the same seeds."""

from __future__ import annotations

from wb_diffusion.longalign import pad_embedding, segment_encode, segment_prompt_embeds
from wb_diffusion.params_align import LongAlignEncodeParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.sampling import sample_seeds
from workbench.api import ImagePairs, MetricsTable, Progress, RunContext, UserError


def run(params: LongAlignEncodeParams, ctx: RunContext):
    pipe = load_pipeline(params.model, device=ctx.device)
    if getattr(pipe, "text_encoder_2", None) is not None:
        raise UserError(f"model={params.model}: segment encoding works on single-text-encoder pipelines (SD 1.x/2.x)")
    pad = pad_embedding(pipe.tokenizer, pipe.text_encoder)
    enc = segment_encode(pipe.tokenizer, pipe.text_encoder, params.prompt, split=params.split,
                         token_length=params.token_length, pad=pad)
    plain_tokens = len(pipe.tokenizer(params.prompt).input_ids)
    context = pipe.tokenizer.model_max_length
    kept = sum(1 for r in enc.rows if r is not None)
    yield MetricsTable(
        name="segments", title="Segments as the text encoder sees them", columns=["segment", "text", "tokens",
                                                                                  "truncated"],
        rows=[[i, s.text, s.tokens, s.truncated] for i, s in enumerate(enc.segments)],
        notes=f"split={params.split}; the plain encoding reads {plain_tokens} tokens and keeps "
              f"{min(plain_tokens, context)} (context {context}); the merged sequence has {kept} rows of "
              f"{params.token_length} from the segments ({enc.start_rows} start rows), the rest the pad embedding")
    yield MetricsTable(
        name="token-map", title="What each merged row carries", columns=["row", "segment", "token"],
        rows=[[i, r[0], r[1]] for i, r in enumerate(enc.rows) if r is not None],
        notes=f"rows {kept}..{params.token_length - 1}: the pad embedding (mean of the last 60 rows of the "
              "encoding of the empty prompt)")
    if not params.sample:
        return
    yield Progress(0.3, "sampling with the plain encoding")
    sampling = (params.seeds, params.steps, params.guidance, params.size, params.size)
    plain = sample_seeds(pipe, *sampling, prompt=params.prompt, negative_prompt=params.negative_prompt or None)
    yield Progress(0.65, "sampling with the segment encoding")
    embeds, negative = segment_prompt_embeds(pipe, [params.prompt], params.negative_prompt, split=params.split,
                                             token_length=params.token_length)
    segmented = sample_seeds(pipe, *sampling, prompt_embeds=embeds, negative_prompt_embeds=negative)
    yield ImagePairs(name="plain-vs-segments", title="Plain (truncated) vs segment encoding, same seeds",
                     left=plain, right=segmented, captions=[f"seed {s}" for s in params.seeds],
                     left_label=f"plain ({min(plain_tokens, context)} tokens)",
                     right_label=f"segments ({params.token_length} rows)")
