"""Errors that are the user's input problem. The CLI prints their message (no traceback) and exits 2.

Kept in one dependency-free module so that catching them never imports the heavy parts of the host.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input: a parameter, file, recipe, device or task name the user gave."""


class ParamError(UserError):
    """Parameters that do not fit a task's model. The message names each offending key."""


class RegistryError(UserError):
    """A contribution that cannot be accepted (duplicate id), or an unknown task."""


class DeviceError(UserError):
    """The requested backend or device is not available, or not supported by the task."""


class CheckpointError(UserError):
    """A checkpoint that cannot be loaded safely or does not fit the model it is loaded into."""


class ImageReadError(UserError):
    """An image file that cannot be decoded; the message names the file."""


class RecipeError(UserError):
    """A recipe that cannot run; the message names the file, the step and the key."""
