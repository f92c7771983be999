"""What LongAlign's segment encoding and AlignIT's splice cost, measured side by side in one run.

    python benchmarks/diffusion_align.py [--model tiny-random] [--repeats 5] [--steps 10]

Prints (1) segment encoding of a long prompt vs the plain 77-token encoding of the same prompt, and (2) AlignIT
sampling (base K/V projections, concept rows from a concept prompt, classic attention) vs plain sampling of the
customised model with its default attention, and vs plain sampling on the same classic kernel — as ratios.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

PROMPT = ("a red circle in the top left. a blue square in the bottom right. a green triangle in the middle. "
          "a yellow star next to the circle. a purple hexagon below the square. a white cross at the top.")


def best_of(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    from wb_diffusion import alignit
    from wb_diffusion.longalign import pad_embedding, segment_encode
    from wb_diffusion.pipelines import load_pipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    base = load_pipeline(args.model)
    pad = pad_embedding(base.tokenizer, base.text_encoder)
    with torch.no_grad():
        plain = best_of(lambda: base.encode_prompt(PROMPT, "cpu", 1, False), args.repeats)
        segments = best_of(lambda: segment_encode(base.tokenizer, base.text_encoder, PROMPT, pad=pad), args.repeats)
    print(f"model {args.model}, {torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"encoding  plain {1000 * plain:8.1f} ms  segments {1000 * segments:8.1f} ms  ratio {segments / plain:.2f}")

    custom = copy.deepcopy(base)
    custom.tokenizer.add_tokens(["<c>"])
    custom.text_encoder.resize_token_embeddings(len(custom.tokenizer))
    prompt = "a <c> next to a blue square"
    inputs = alignit.prepare(base, custom, prompt, "<c>", stand_in="x")
    side = base.unet.config.sample_size * base.vae_scale_factor

    def sample(**kw):
        return custom(num_inference_steps=args.steps, height=side, width=side, output_type="np",
                      generator=torch.Generator().manual_seed(0), **kw)

    default = best_of(lambda: sample(prompt=prompt), args.repeats)
    alignit.classic_attention(custom.unet)
    classic = best_of(lambda: sample(prompt=prompt), args.repeats)
    before = alignit.install(custom.unet, base.unet)
    spliced = best_of(lambda: sample(prompt_embeds=inputs.prompt_embeds,
                                     negative_prompt_embeds=inputs.negative_prompt_embeds,
                                     cross_attention_kwargs={"splice": inputs.splice}), args.repeats)
    alignit.restore(custom.unet, before)
    print(f"sampling  default {1000 * default:8.1f} ms  classic {1000 * classic:8.1f} ms  AlignIT "
          f"{1000 * spliced:8.1f} ms  ({args.steps} steps, {side} px)")
    print(f"AlignIT vs default attention {spliced / default:.2f}x; vs the same classic kernel {spliced / classic:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
