"""Sampling from a loaded pipeline: the scheduler swap, one image per (prompt, seed), PNGs that carry their prompt
and seed, and the ``samples.jsonl`` index. :func:`sample_seeds` is the plugin's one way to draw pictures (tasks,
trainers' previews and grids, reward-ranked pairs), so every picture is seeded and rounded the same way."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from workbench.api import UserError

SCHEDULERS = {"ddim": "DDIMScheduler", "ddpm": "DDPMScheduler", "euler": "EulerDiscreteScheduler",
              "dpm++": "DPMSolverMultistepScheduler", "unipc": "UniPCMultistepScheduler"}


@dataclass(frozen=True)
class Sample:
    """One generated image's recipe."""

    prompt: str
    seed: int
    steps: int
    guidance_scale: float
    scheduler: str


def use_scheduler(pipe, name: str) -> None:
    """Swap ``pipe.scheduler`` for ``name`` built from the current scheduler's config (same noise schedule)."""
    import diffusers

    if name not in SCHEDULERS:
        raise UserError(f"scheduler={name!r}: expected one of {', '.join(SCHEDULERS)}")
    pipe.scheduler = getattr(diffusers, SCHEDULERS[name]).from_config(pipe.scheduler.config)


def read_prompts(prompts: list[str], prompts_file: str) -> list[str]:
    """The prompts given inline and/or one per line of a text file (blank lines skipped); none is an error."""
    found = [p for p in prompts if p.strip()]
    if prompts_file:
        path = Path(prompts_file)
        if not path.is_file():
            raise UserError(f"prompts_file={prompts_file}: no such file")
        found += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not found:
        raise UserError("prompts: the prompt list is empty (give prompts=[...] or a prompts_file with one prompt "
                        "per line)")
    return found


def sample_seeds(pipe, seeds: list[int], steps: int, guidance: float, height: int = 0, width: int = 0,
                 **inputs) -> list[np.ndarray]:
    """HxWx3 uint8 images, one per seed, for one prompt given as the pipeline takes it (``prompt=`` or
    ``prompt_embeds=``/``negative_prompt_embeds=``), drawn in one batch; each seed has its own CPU generator, so an
    image depends on its seed only (not on the batch or the device). Size 0: the model's own."""
    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    out = pipe(num_inference_steps=steps, guidance_scale=guidance, height=height or None, width=width or None,
               num_images_per_prompt=len(seeds), generator=generators, output_type="np", **inputs)
    return [(np.clip(image, 0, 1) * 255).round().astype(np.uint8) for image in out.images]


def sample_batches(samples: list[Sample], size: int) -> list[list[Sample]]:
    """Runs of consecutive samples that differ only in their seed, each at most ``size`` long: what
    :func:`generate` draws in one pipeline call."""
    batches: list[list[Sample]] = []
    for sample in samples:
        last = batches[-1] if batches else None
        if last and len(last) < size and replace(last[0], seed=sample.seed) == sample:
            last.append(sample)
        else:
            batches.append([sample])
    return batches


def generate(pipe, samples: list[Sample], height: int = 0, width: int = 0, batch_size: int = 1) -> list[np.ndarray]:
    """One image per sample (its prompt, seed, steps and guidance; the scheduler is set by :func:`use_scheduler`),
    up to ``batch_size`` seeds of one prompt per pipeline call (the images do not depend on the batching)."""
    return [image for batch in sample_batches(samples, batch_size)
            for image in sample_seeds(pipe, [s.seed for s in batch], batch[0].steps, batch[0].guidance_scale,
                                      height, width, prompt=batch[0].prompt)]


def save_samples(images: list[np.ndarray], samples: list[Sample], folder: Path, model: str) -> Path:
    """Each image as ``NNN-seedS.png`` with its recipe in the PNG text chunks, and ``samples.jsonl`` beside them."""
    from PIL import Image, PngImagePlugin

    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "samples.jsonl"
    with index.open("w", encoding="utf-8") as out:
        for i, (image, sample) in enumerate(zip(images, samples, strict=True)):
            record = {"file": f"{i:03d}-seed{sample.seed}.png", "model": model, **asdict(sample)}
            info = PngImagePlugin.PngInfo()
            for key, value in record.items():
                info.add_text(key, str(value))
            Image.fromarray(image).save(folder / record["file"], pnginfo=info)
            out.write(json.dumps(record) + "\n")
    return index
