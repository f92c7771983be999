"""Hook implementations of the diffusion plugin: metadata only, no torch or diffusers."""

from __future__ import annotations

from workbench.api import hookimpl


@hookimpl
def workbench_register_tasks(registry) -> None:
    """Tasks are added by the modules that implement them (sampling, preference tuning)."""
