"""Which parameters TENT and CAFA adapt: the affine weight and bias of normalisation layers, nothing else."""

from __future__ import annotations

from torch import nn

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm1d,
              nn.InstanceNorm2d, nn.InstanceNorm3d)
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class NoNormLayersError(ValueError):
    """The model has no normalisation layer with affine parameters, so there is nothing TENT/CAFA may adapt."""


def norm_affine_parameters(model: nn.Module, method: str = "TENT/CAFA") -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` for every affine weight/bias of a normalisation layer; refuses a model with none."""
    found = []
    for mod_name, module in model.named_modules():
        if isinstance(module, NORM_TYPES):
            for p_name, param in module.named_parameters(recurse=False):
                found.append((f"{mod_name}.{p_name}" if mod_name else p_name, param))
    if not found:
        layers = sorted({type(m).__name__ for m in model.modules() if m is not model and not list(m.children())})
        raise NoNormLayersError(
            f"{method} adapts only the affine weight and bias of normalisation layers "
            f"(BatchNorm, GroupNorm, LayerNorm, InstanceNorm with affine=True); {type(model).__name__} has none "
            f"(its layers: {', '.join(layers) or 'none'}). Nothing would be adapted: use LAME or no adaptation.")
    return found


def configure_for_adaptation(model: nn.Module, bn_statistics: str = "batch",
                             method: str = "TENT/CAFA") -> list[nn.Parameter]:
    """Freeze everything but the normalisation affine parameters and return those.

    ``bn_statistics="batch"`` normalises BatchNorm with each test batch's statistics (TENT's choice; running
    statistics are dropped); ``"source"`` keeps the source running statistics (eval-mode BatchNorm).
    """
    if bn_statistics not in ("batch", "source"):
        raise ValueError(f"bn_statistics must be 'batch' or 'source', got {bn_statistics!r}")
    params = norm_affine_parameters(model, method)
    model.requires_grad_(False)
    for _, param in params:
        param.requires_grad_(True)
    model.eval()
    if bn_statistics == "batch":
        for module in model.modules():
            if isinstance(module, _BN_TYPES):
                module.train()
                module.track_running_stats = False
                module.running_mean = None
                module.running_var = None
    return [p for _, p in params]
