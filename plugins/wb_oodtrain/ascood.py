"""ASCOOD (Regmi 2024): virtual outliers synthesised from ID images, trained toward the uniform prediction.

The attribution ``g = d logit_y / dx`` (eval mode) ranks pixels; the most attributed ``p_inv`` fraction is
destroyed: pushed along ``g`` (gradient), permuted among themselves (shuffle), or the whole image is replaced by
noise (gaussian). The classifier sees standardised features; the loss is CE on ID plus ``w * KL(u || p)`` on
the outliers. i-ODIN, the paper's score, perturbs only the single most attributed input element.

The reference (sudarshanregmi/ASCOOD @f351789, ``openood/trainers/ascood_trainer.py`` and
``openood/postprocessors/iodin_postprocessor.py``) works on the normalised tensors the network sees, so by default
(``outlier_space="normalised"``) the attribution is taken with respect to ``(x - mean) / std``, the gradient step,
the shuffle ranking and the gaussian noise are in those units, and i-ODIN picks the element of largest normalised
gradient (its step is ``epsilon`` in pixel units, as ODIN's). Our networks normalise inside (``OODNet``), so the
outliers are mapped back to pixels before the forward pass. ``outlier_space="raw"`` is the earlier variant that
acts on [0, 1] pixels; both are the same when mean 0 / std 1 (the digits world). The alpha schedule counts epochs
1..E as the reference's training loop does, so the last epoch uses ``alpha_min``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def input_stats(net, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel mean and std the network normalises its input with (``OODNet`` buffers), broadcastable to
    ``like``; 0 and 1 for a network that has none."""
    mean, std = getattr(net, "mean", None), getattr(net, "std", None)
    if not isinstance(mean, torch.Tensor) or not isinstance(std, torch.Tensor):
        return like.new_zeros(()), like.new_ones(())
    return mean.to(like), std.to(like)


def saliency(net, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``d logit_y / dx`` with the network in eval mode (BatchNorm frozen); parameter grads are not touched."""
    was_training = net.training
    net.eval()
    x = x.detach().requires_grad_(True)
    score = net(x).gather(1, y[:, None]).sum()
    (grad,) = torch.autograd.grad(score, x)
    net.train(was_training)
    return grad.detach()


def gradient_step(grad: torch.Tensor, alpha: float, p_inv: float) -> torch.Tensor:
    """``alpha * g`` on the top ``p_inv`` fraction of ``|g|`` elements (over C*H*W), zero elsewhere."""
    n = len(grad)
    flat = grad.reshape(n, -1)
    k = int(flat.shape[1] * p_inv)
    mask = torch.zeros_like(flat)
    if k > 0:
        mask.scatter_(1, flat.abs().topk(k, dim=1).indices, 1.0)
    return (alpha * grad * mask.view_as(grad)).detach()


def gradient_outliers(x: torch.Tensor, grad: torch.Tensor, alpha: float, p_inv: float) -> torch.Tensor:
    """``x + alpha * g`` on the top ``p_inv`` fraction of ``|g|`` elements (over C*H*W), untouched elsewhere."""
    return (x + gradient_step(grad, alpha, p_inv)).detach()


def shuffle_outliers(x: torch.Tensor, grad: torch.Tensor, p_inv: float, gen: torch.Generator) -> torch.Tensor:
    """Permute the top ``p_inv`` fraction of positions (ranked by ``sum_c exp(g)``) among themselves, all channels
    together: each image keeps its pixel multiset and at most ``p_inv * H * W`` positions change."""
    n, c, h, w = x.shape
    k = int(h * w * p_inv)
    if k < 2:
        return x.detach().clone()
    rank = grad.exp().sum(1).reshape(n, -1)
    top = rank.topk(k, dim=1).indices
    perm = torch.argsort(torch.rand(n, k, generator=gen), dim=1).to(x.device)
    flat = x.detach().reshape(n, c, -1)
    chosen = flat.gather(2, top[:, None, :].expand(-1, c, -1))
    shuffled = chosen.gather(2, perm[:, None, :].expand(-1, c, -1))
    out = flat.clone().scatter_(2, top[:, None, :].expand(-1, c, -1), shuffled)
    return out.view_as(x)


def gaussian_outliers(x: torch.Tensor, alpha: float, gen: torch.Generator) -> torch.Tensor:
    return alpha * torch.randn(x.shape, generator=gen).to(x.device)


def kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    """``KL(u || softmax(z))`` averaged over the batch: >= 0, and 0 exactly when the prediction is uniform."""
    log_p = F.log_softmax(logits, dim=1)
    uniform = torch.full_like(log_p, 1.0 / logits.shape[1])
    return F.kl_div(log_p, uniform, reduction="batchmean")


def alpha_at(epoch: int, epochs: int, alpha_max: float, alpha_min: float) -> float:
    """Alpha during epoch ``epoch`` (0-based, as the trainer counts): the reference's linear decay
    ``alpha_min + (alpha_max - alpha_min)(1 - e/E)`` with ``e = epoch + 1`` running 1..E, so the last epoch uses
    ``alpha_min``."""
    return (alpha_max - alpha_min) * (1.0 - (epoch + 1) / epochs) + alpha_min


def synthesise(net, x: torch.Tensor, y: torch.Tensor, ood_type: str, alpha: float, p_inv: float,
               gen: torch.Generator, space: str = "normalised") -> tuple[torch.Tensor, torch.Tensor | None]:
    """Virtual outliers of ``x`` (pixels) and the attribution used (None for gaussian).

    ``space="normalised"``: the synthesis acts on ``(x - mean) / std`` with the attribution taken there
    (``d logit / d x_n = std * d logit / d x``); the outliers are returned in pixels. ``space="raw"``: on pixels.
    """
    if space not in ("normalised", "raw"):
        raise ValueError(f"outlier_space must be 'normalised' or 'raw', got {space!r}")
    mean, std = input_stats(net, x) if space == "normalised" else (x.new_zeros(()), x.new_ones(()))
    if ood_type == "gaussian":
        return mean + std * gaussian_outliers(x, alpha, gen), None
    grad = saliency(net, x, y) * std
    if ood_type == "shuffle":
        return shuffle_outliers(x, grad, p_inv, gen), grad
    return (x + std * gradient_step(grad, alpha, p_inv)).detach(), grad


class ASCOODMethod:
    """One step: attribution pass, outlier synthesis, one forward over ID + outliers, CE + w * KL-to-uniform."""

    name = "ascood"

    def __init__(self, params, num_classes: int) -> None:
        self.p, self.num_classes = params, num_classes
        self.head = {"head": "standardised", "sigma": params.sigma}

    def param_groups(self, net) -> list[dict]:
        fc_ids = {id(p) for p in net.fc.parameters()}
        body = [p for p in net.parameters() if id(p) not in fc_ids]
        return [{"params": body}, {"params": list(net.fc.parameters()), "lr_factor": self.p.fc_lr_factor}]

    def loss(self, model, net, x, y, gen, epoch: int, epochs: int) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.p
        alpha = alpha_at(epoch, epochs, p.alpha_max, p.alpha_min)
        x_out, _ = synthesise(net, x, y, p.ood_type, alpha, p.p_inv, gen, p.outlier_space)
        logits = model(torch.cat([x, x_out]))
        ce = F.cross_entropy(logits[:len(x)], y)
        kl = kl_to_uniform(logits[len(x):])
        return ce + p.w * kl, {"ce": ce.item(), "kl": kl.item(), "alpha": alpha}


def i_odin(net, images: np.ndarray, temperature: float, epsilon: float, batch_size: int, device: str) -> np.ndarray:
    """i-ODIN: ODIN's step against the predicted class's loss, on the single element of largest gradient.

    As in the reference, the element is chosen by the gradient with respect to the normalised input (the pixel
    gradient times the network's input std) and the step is ``epsilon`` in pixel units, with sign +1 where the
    gradient is >= 0 and -1 elsewhere.
    """
    out = []
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(images[i:i + batch_size]).to(device).requires_grad_(True)
        logits = net(x) / temperature
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, logits.argmax(1)), x)
        grad = grad * input_stats(net, grad)[1]
        flat = grad.reshape(len(x), -1)
        mask = torch.zeros_like(flat).scatter_(1, flat.abs().argmax(1, keepdim=True), 1.0).view_as(x)
        sign = torch.where(grad >= 0, 1.0, -1.0)
        with torch.no_grad():
            perturbed = net(x - epsilon * sign * mask) / temperature
            out.append(torch.softmax(perturbed, 1).max(1).values.cpu().numpy())
    return np.concatenate(out)

