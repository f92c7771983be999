"""Which CLIP reward would pick on-policy pairs that differ in what the independent checker sees?

Draws ``k`` samples of a text-to-image model for each one-object *train* caption of the shapes world (the seeds
``diffusion.make-pairs source=samples`` uses), scores every sample with four rewards built on one CLIP, and prints,
for the best-vs-worst pair each reward would pick, how often the shapes checker finds the chosen and the rejected
picture right (following the caption, and its shape alone). The checker only reads the pairs here; it never ranks.

Rewards: ``cosine`` (the image/text cosine, make-pairs' ranking), ``foil-margin`` (the caption's cosine minus the
best of its foils': the same caption with another colour, shape or size), ``shape-margin`` (minus the shape foil's
alone), ``clip-i`` (the image's cosine with the mean image embedding of 16 world drawings of the caption); and
``shapes-reward``, the zoo's reward model (``models/shapes-reward``, not a CLIP), for comparison.

Usage: python scripts/pair_rewards.py [--model tiny-shapes-sd] [--clip tiny-clip] [--n 128] [--k 8]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

REFERENCES = 16


def _references(clip, captions: set[str]) -> dict[str, torch.Tensor]:
    """Unit mean image embedding of world drawings per caption (train scenes far from the ones captioned)."""
    from workbench.api import load_sample

    drawn: dict[str, list[np.ndarray]] = {}
    for scene in load_sample("shapes", split="train", n=20_000, start=200_000, seed=0, min_objects=1,
                             max_objects=1):
        if scene.caption in captions and len(drawn.setdefault(scene.caption, [])) < REFERENCES:
            drawn[scene.caption].append(scene.image)
    with torch.no_grad():
        return {c: torch.nn.functional.normalize(clip.encode_image(v).mean(0), dim=0) for c, v in drawn.items()}


def main() -> None:
    from wb_diffusion.pipelines import load_pipeline
    from wb_diffusion.sampling import sample_seeds
    from wb_shapes.api import PromptSpec, judge, load_reward
    from workbench.api import load_clip, load_sample

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-shapes-sd")
    parser.add_argument("--clip", default="tiny-clip")
    parser.add_argument("--n", type=int, default=128, help="train captions")
    parser.add_argument("--k", type=int, default=8, help="samples per caption")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=5.0)
    args = parser.parse_args()

    pipe = load_pipeline(args.model, device="cpu")
    clip = load_clip(args.clip)
    scenes = load_sample("shapes", split="train", n=args.n, seed=0, min_objects=1, max_objects=1)
    references = _references(clip, {s.caption for s in scenes})
    reward_model = load_reward()
    rewards: dict[str, list[np.ndarray]] = {"cosine": [], "foil-margin": [], "shape-margin": [], "clip-i": [],
                                            "shapes-reward": []}
    follows, shapes = [], []
    for i, scene in enumerate(scenes):
        images = sample_seeds(pipe, [args.k * i + j for j in range(args.k)], args.steps, args.guidance, 0, 0,
                              prompt=scene.caption)
        foils = [scene.foils[kind].caption for kind in ("colour", "shape", "size") if kind in scene.foils]
        shape_foil = [scene.foils["shape"].caption] if "shape" in scene.foils else foils
        with torch.no_grad():
            embedded = clip.encode_image(images)
            cos = (embedded @ clip.encode_text([scene.caption]).T)[:, 0]
            rewards["cosine"].append(cos.numpy())
            rewards["foil-margin"].append((cos - (embedded @ clip.encode_text(foils).T).amax(1)).numpy())
            rewards["shape-margin"].append((cos - (embedded @ clip.encode_text(shape_foil).T).amax(1)).numpy())
            rewards["clip-i"].append((embedded @ references[scene.caption]).numpy())
        rewards["shapes-reward"].append(np.array(reward_model.score(images, scene.caption)))
        verdict = judge(np.stack(images), [PromptSpec.parse(scene.caption)] * args.k)
        follows.append(np.array(verdict.follows, dtype=float))
        shapes.append(np.array(verdict.shapes_ok, dtype=float))
    follows_a, shapes_a = np.stack(follows), np.stack(shapes)
    rows = np.arange(args.n)
    print(f"{args.n} train captions x {args.k} samples of {args.model}, ranked by {args.clip}; the checker judges")
    print(f"all samples: follows {follows_a.mean():.3f}, shape right {shapes_a.mean():.3f}; captions with a "
          f"shape-right sample {shapes_a.any(1).mean():.3f}, with a following one {follows_a.any(1).mean():.3f}")
    print(f"{'reward':14s} {'chosen follows':>15s} {'rejected':>9s} {'chosen shape':>13s} {'rejected':>9s}")
    for name, values in rewards.items():
        score = np.stack(values)
        best, worst = score.argmax(1), score.argmin(1)
        print(f"{name:14s} {follows_a[rows, best].mean():15.3f} {follows_a[rows, worst].mean():9.3f} "
              f"{shapes_a[rows, best].mean():13.3f} {shapes_a[rows, worst].mean():9.3f}")


if __name__ == "__main__":
    main()
