"""Task ``diffusion.train-vae``: the tiny AutoencoderKL of the zoo's text-to-image model, on shapes scenes.

Pixel MSE plus a small KL term (the latents stay close to a unit Gaussian without blurring the shapes). At the end
the latent scaling factor is set to 1/std of the latents of held-out scenes, as Stable Diffusion's VAE config
carries it, and the VAE is saved as a diffusers folder (``artifacts/vae``); ``publish`` puts it into the zoo as
``tiny-shapes-vae`` for ``diffusion.train-unet``. Under torchrun each rank encodes its share of every batch and
the gradients are averaged, so two processes train what one does.
"""

from __future__ import annotations

import torch

from wb_diffusion.params_base import TrainVaeParams
from wb_diffusion.shapes_batches import scene_batch, to_uint8_images
from wb_diffusion.tiny import tiny_vae
from wb_diffusion.training_loop import loss_curves, set_threads, warmup_lr
from wb_diffusion.zoo_files import publish_folder
from workbench.api import Distributed, ImagePairs, MetricsTable, Progress, RunContext

VAE_ID = "tiny-shapes-vae"


def vae_loss(vae, images: torch.Tensor, kl_weight: float, dist: Distributed | None = None,
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, pixel MSE, KL per latent element) of one batch, the posterior sampled. Under data parallelism this
    rank's share of the batch, the posterior noise drawn for the whole batch, the total scaled for DDP's mean."""
    dist = dist or Distributed()
    n, mine = len(images), dist.share(torch.arange(len(images)))
    posterior = vae.encode(images[mine]).latent_dist
    eps = dist.share(torch.randn((n, *posterior.mean.shape[1:]), dtype=posterior.mean.dtype))
    recon = vae.decode(posterior.mean + posterior.std * eps.to(posterior.mean.device)).sample
    mse = torch.nn.functional.mse_loss(recon, images[mine])
    kl = posterior.kl().mean() / posterior.mean[0].numel()
    return (mse + kl_weight * kl) * dist.loss_scale(len(mine), n), mse, kl


@torch.no_grad()
def held_out(vae, params: TrainVaeParams) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Reconstruction MSE and latent std on 256 test scenes; the first 8 images and reconstructions."""
    images, _ = scene_batch(0, 256, params.data_seed, params.image_size, params.max_objects, split="test")
    latents = vae.encode(images).latent_dist.mean
    recon = vae.decode(latents).sample.clamp(-1, 1)
    metrics = {"test_recon_mse": float(torch.nn.functional.mse_loss(recon, images)),
               "latent_std": float(latents.std())}
    return metrics, images[:8], recon[:8]


def run(params: TrainVaeParams, ctx: RunContext):
    set_threads(params.threads)
    torch.manual_seed(ctx.seed)
    vae = tiny_vae()
    opt = torch.optim.AdamW(vae.parameters(), lr=params.lr, weight_decay=0.0)
    dist = ctx.distributed()
    # The learning rate does not depend on ``steps``: a run can be finished earlier or continued longer.
    signature = {"task": "diffusion.train-vae", "batch_size": params.batch_size,
                 "data_seed": params.data_seed, "image_size": params.image_size}
    state = ctx.start_or_resume(params.resume, vae, opt, signature=signature)
    start, losses = state.step, state.history("losses")
    end = min(params.steps, params.stop_after or params.steps)
    for step in range(start, end):
        ctx.check_cancelled()
        images, _ = scene_batch(step, params.batch_size, params.data_seed, params.image_size, params.max_objects)
        for group in opt.param_groups:
            group["lr"] = warmup_lr(step, params.lr, params.warmup_steps)
        vae.train()
        loss, mse, kl = vae_loss(vae, images, params.kl_weight, dist)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(vae)
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        losses.append([step + 1, float(mse), float(kl)])
        done = step + 1
        if done % params.checkpoint_every == 0 or done == end:
            ctx.save_checkpoint(done, vae, opt, signature=signature,
                                extra={"losses": torch.tensor(losses, dtype=torch.float64)})
            yield loss_curves("loss", "VAE training loss", ["pixel mse", "kl"], losses)
        yield Progress(done / params.steps, f"step {done}/{params.steps}: mse {float(mse):.4f}",
                       metrics={"mse": float(mse), "kl": float(kl)})
    dist.leave()
    if end < params.steps:
        ctx.log(f"stopped after step {end} of {params.steps}; continue with resume={ctx.run_dir}")
        return
    vae.eval()
    metrics, images, recon = held_out(vae, params)
    vae.register_to_config(scaling_factor=round(1.0 / metrics["latent_std"], 5))
    folder = ctx.artifacts / "vae"
    vae.save_pretrained(folder)
    ctx.log(f"VAE saved to {folder} (scaling factor {vae.config.scaling_factor})")
    yield ImagePairs(name="reconstructions", title="Held-out scenes and their VAE reconstructions",
                     left=to_uint8_images(images), right=to_uint8_images(recon), left_label="scene",
                     right_label="reconstruction")
    yield MetricsTable(name="vae", title="VAE on 256 held-out shapes scenes", columns=["metric", "value"],
                       rows=[[k, round(v, 5)] for k, v in metrics.items()])
    if params.publish:
        seen = params.steps * params.batch_size
        publish_folder(ctx, VAE_ID, folder, title="Tiny AutoencoderKL of the shapes world (32 px, 4x16x16 latents)",
                       architecture="diffusers AutoencoderKL: blocks 32/64, 4 latent channels, scale factor 2 "
                                    "(float16 storage, loads as float32)",
                       recipe="zoo-tiny-shapes-sd", loader="wb_diffusion.pipelines:load_vae_card",
                       data=f"shapes world seed {params.data_seed}: train scenes 0..{seen - 1} at {params.image_size} "
                            f"px, 1-{params.max_objects} objects; metrics on 256 test scenes",
                       metrics=metrics)
