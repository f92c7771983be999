"""The exceptions that are the user's input problem: the CLI prints their message (no traceback) and exits 2."""

from __future__ import annotations

from workbench.core.checkpoints import CheckpointError
from workbench.core.devices import DeviceError
from workbench.core.images import ImageReadError
from workbench.core.params import ParamError
from workbench.core.recipes import RecipeError
from workbench.core.registry import RegistryError

USER_ERRORS: tuple[type[Exception], ...] = (
    ParamError, RegistryError, DeviceError, CheckpointError, ImageReadError, RecipeError, FileNotFoundError,
)
