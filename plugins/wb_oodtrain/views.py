"""The methods' own views, as results (data; the host's renderers draw them): MixOE mixes and MSP vs lambda,
PALM embeddings with prototypes and prototype usage, ASCOOD image | attribution | virtual outlier."""

from __future__ import annotations

import numpy as np
import torch

from wb_oodtrain import ascood, mixoe
from wb_oodtrain.palm import sinkhorn
from workbench.api import Curves, EmbeddingScatter, ImageGrid, MetricsTable, to_uint8


def _softmax_max(net, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(net(x), 1).max(1).values.cpu().numpy()


def mixoe_views(net, x_id: np.ndarray, outliers: np.ndarray, op: str, alpha: float, seed: int,
                device: str) -> list:
    """A grid of held-out mixes captioned with lambda and MSP, and the mean MSP against lambda."""
    gen = torch.Generator().manual_seed(seed + 17)
    n = min(16, len(x_id), len(outliers))
    x = torch.from_numpy(x_id[:n]).to(device)
    xo = torch.from_numpy(outliers[:n]).to(device)
    lam = mixoe.sample_lambda(alpha, n, gen, per_sample=True)
    mixed, lam = mixoe.mix(op, x, xo, lam, gen, box="per-sample")  # one lambda and box per picture
    msp = _softmax_max(net, mixed)
    grid = ImageGrid(name="mixoe-samples", title=f"MixOE {op} of held-out ID test images and outliers",
                     images=to_uint8(mixed.cpu().numpy()),
                     captions=[f"lambda {float(v):.2f}\nMSP {m:.2f}" for v, m in zip(lam.cpu(), msp)], ncols=8)
    m = min(200, len(x_id), len(outliers))
    x, xo = torch.from_numpy(x_id[:m]).to(device), torch.from_numpy(outliers[-m:]).to(device)
    lams = np.linspace(0, 1, 11)
    curve = []
    for v in lams:
        mixed, _ = mixoe.mix(op, x, xo, torch.full((m,), float(v)), gen, box="per-sample")
        curve.append(float(_softmax_max(net, mixed).mean()))
    c = net.fc.out_features
    target = 1.0 / c + lams * (1 - 1.0 / c)
    return [grid, Curves(name="msp-vs-lambda", title="MSP on held-out mixes against lambda", x_label="lambda",
                         y_label="mean MSP", series={"trained model": np.stack([lams, curve]),
                                                     "soft target (linear)": np.stack([lams, target])})]


def _pca2(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = points.mean(0)
    _, _, vt = np.linalg.svd(points - mean, full_matrices=False)
    return mean, vt[:2]


def palm_views(net, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               classes: list[str], epsilon: float, iters: int, device: str) -> list:
    """PCA of test embeddings with the prototypes, and per-class prototype usage on the train split."""
    head = net.fc

    def embed(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([head.embed(net.forward_features(torch.from_numpy(x[i:i + 256]).to(device)))
                              for i in range(0, len(x), 256)]).cpu().numpy()

    z_test, z_train = embed(x_test), embed(x_train)
    protos = head.prototypes.cpu().numpy()
    c, m = head.num_classes, head.num_protos
    mean, axes = _pca2(np.concatenate([z_test, protos]))
    pz, pp = (z_test - mean) @ axes.T, (protos - mean) @ axes.T
    picture = EmbeddingScatter(name="palm-embeddings", title="PALM: ID test embeddings (dots) and prototypes "
                               "(stars), 2-D PCA", points=pz, labels=np.asarray(y_test, np.int64),
                               classes=[f"class {n}" for n in classes], anchors=pp,
                               anchor_labels=np.arange(c * m) % c, anchor_name="prototypes",
                               x_label="PC 1", y_label="PC 2")
    q = sinkhorn(torch.from_numpy(z_train @ protos.T), epsilon, iters).numpy()
    rows = []
    for k in range(c):
        own = np.arange(k, c * m, c)
        sel = y_train == k
        winner = q[sel][:, own].argmax(1) if sel.any() else np.zeros(0, int)
        usage = np.bincount(winner, minlength=m) / max(1, sel.sum())
        rows.append([classes[k], int(sel.sum()), *[float(u) for u in usage], int((usage > 0.02).sum())])
    usage_table = MetricsTable(name="prototype-usage", title="PALM: share of each class's training images whose "
                               "strongest own-class prototype is m", columns=["class", "images",
                               *[f"proto {j}" for j in range(m)], "prototypes used (>2%)"], rows=rows,
                               notes="Sinkhorn assignment on the trained embeddings; a prototype nobody uses did "
                                     "not find a mode of its class.")
    return [picture, usage_table]


def ascood_views(net, x: np.ndarray, y: np.ndarray, ood_type: str, alpha: float, p_inv: float, seed: int,
                 device: str, space: str = "normalised", n: int = 6) -> ImageGrid:
    """Rows of image | attribution mask | virtual outlier for a few ID test images."""
    gen = torch.Generator().manual_seed(seed + 29)
    xt, yt = torch.from_numpy(x[:n]).to(device), torch.from_numpy(y[:n]).to(device)
    out, grad = ascood.synthesise(net, xt, yt, ood_type, alpha, p_inv, gen, space)
    msp_in, msp_out = _softmax_max(net, xt), _softmax_max(net, out)
    images, captions = [], []
    for i in range(len(xt)):
        if grad is None:
            heat = np.zeros(xt.shape[2:], np.float32)
        else:
            g = grad[i].abs().sum(0).cpu().numpy()
            mask = np.zeros(g.size, np.float32)
            mask[np.argsort(g.ravel())[::-1][:max(1, int(g.size * p_inv))]] = 1.0
            heat = 0.35 * g / (g.max() + 1e-12) + 0.65 * mask.reshape(g.shape)
        shown = np.clip(out[i].cpu().numpy(), 0, 1)
        images += [to_uint8(xt[i:i + 1].cpu().numpy())[0], (heat * 255).astype(np.uint8),
                   to_uint8(shown[None])[0]]
        captions += [f"ID, MSP {msp_in[i]:.2f}", "|attribution| + top p_inv mask",
                     f"{ood_type} outlier, MSP {msp_out[i]:.2f}"]
    return ImageGrid(name="ascood-outliers", title=f"ASCOOD: image | attribution | virtual outlier "
                     f"({ood_type}, p_inv {p_inv}, alpha {alpha:.3g})", images=images, captions=captions, ncols=3)
