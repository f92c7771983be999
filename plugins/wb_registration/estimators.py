"""One entry to every estimator on matched points, and loading VBReg for torch or ONNX Runtime."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from wb_registration.consensus import Estimate, ill_posed
from wb_registration.geometry import apply_transform, is_degenerate_set, weighted_kabsch
from wb_registration.params import EstimatorFields

log = logging.getLogger(__name__)


def kabsch_estimate(src: np.ndarray, tgt: np.ndarray, eps: float) -> Estimate:
    """Plain least squares on all matches: exact without outliers, broken by non-zero-mean outliers."""
    if len(src) < 3 or is_degenerate_set(src):
        return ill_posed(len(src), f"{len(src)} matches, need 3 non-collinear")
    t0 = time.perf_counter()
    transform = weighted_kabsch(src, tgt)
    residual = np.linalg.norm(apply_transform(src, transform) - tgt, axis=1)
    conf = np.clip(1.0 - (residual / eps) ** 2, 0.0, 1.0)
    return Estimate(transform, residual < eps, conf, "ok", {"time_kabsch_s": time.perf_counter() - t0})


def load_vbreg(params: EstimatorFields, ctx=None):
    """A :class:`VBRegInference` of the zoo model (or ``vbreg_checkpoint``) on the run's engine (torch here
    without a run context); ``vbreg_onnx`` runs a given export instead of the host's cached one."""
    from wb_registration.vbreg import VBRegInference
    from workbench.api import load_zoo_model

    net = load_zoo_model("vbreg", weights=params.vbreg_checkpoint or None)
    if ctx is None:
        return VBRegInference(net)
    onnx_file = Path(params.vbreg_onnx) if params.vbreg_onnx and ctx.engine == "onnx" else None
    return VBRegInference(net, device=ctx.device, inference=ctx.inference, onnx_file=onnx_file)


def estimate(method: str, src: np.ndarray, tgt: np.ndarray, eps: float, params: EstimatorFields, seed: int = 0,
             vbreg_infer=None) -> Estimate:
    """Run ``method`` on matched points ``src[i] <-> tgt[i]``; ``vbreg_infer`` is needed for ``vbreg``."""
    if method == "kabsch":
        return kabsch_estimate(src, tgt, eps)
    if method == "sc2pcr":
        from wb_registration.sc2pcr import sc2_pcr

        return sc2_pcr(src, tgt, eps, params.sc2_seed_ratio, params.sc2_k1, params.sc2_k2,
                       variant=params.sc2_variant)
    if method == "ransac":
        from wb_registration.open3d_methods import ransac

        return ransac(src, tgt, eps, params.ransac_iterations, params.ransac_confidence, seed=seed)
    if method == "fgr":
        from wb_registration.open3d_methods import fgr

        return fgr(src, tgt, eps)
    if method == "vbreg":
        from wb_registration.vbreg import vbreg

        if vbreg_infer is None:
            raise ValueError("method vbreg needs a loaded network (load_vbreg)")
        return vbreg(src, tgt, eps, vbreg_infer, seed=seed, seed_ratio=params.vbreg_seed_ratio,
                     n_min=params.vbreg_n_min, kappa=params.vbreg_kappa, variant=params.vbreg_variant)
    raise ValueError(f"method: unknown estimator {method!r}")
