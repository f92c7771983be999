"""Task ``diffusion.sample``: images from any text-to-image source for prompts x seeds, as a grid, PNGs carrying
their prompt and seed, and ``samples.jsonl``. On ``onnx-*`` backends the UNet runs on ONNX Runtime."""

from __future__ import annotations

from wb_diffusion.params_base import SampleParams
from wb_diffusion.pipelines import load_pipeline
from wb_diffusion.sampling import Sample, generate, read_prompts, sample_batches, save_samples, use_scheduler
from workbench.api import ImageGrid, Progress, RunContext


def run(params: SampleParams, ctx: RunContext):
    prompts = read_prompts(params.prompts, params.prompts_file)
    device = "cpu" if ctx.engine == "onnx" else ctx.device
    pipe = load_pipeline(params.model, device=device, config=params.config, lora=params.lora)
    use_scheduler(pipe, params.scheduler)
    if ctx.engine == "onnx":
        from wb_diffusion.onnx_unet import use_onnx_unet

        ctx.log(f"UNet: {use_onnx_unet(pipe, ctx)}")
    samples = [Sample(p, s, params.steps, params.guidance_scale, params.scheduler) for p in prompts
               for s in params.seeds]
    images = []
    for batch in sample_batches(samples, params.batch_size):
        ctx.check_cancelled()
        images += generate(pipe, batch, params.height, params.width, params.batch_size)
        yield Progress(len(images) / len(samples), f"image {len(images)}/{len(samples)}: {batch[0].prompt!r}")
    index = save_samples(images, samples, ctx.artifacts / "samples", params.model)
    ctx.log(f"{len(images)} images and {index.name} in {index.parent}")
    yield ImageGrid(name="samples", title=f"{params.model}{' + ' + params.lora if params.lora else ''}: "
                                          f"{params.scheduler}, {params.steps} steps, guidance {params.guidance_scale}",
                    images=images, captions=[f"{s.prompt} (seed {s.seed})" for s in samples],
                    ncols=max(1, len(params.seeds)))
