"""Shipped assets and the user's zoo: package data read through ``importlib.resources``, never source-tree paths.

The project's top-level ``models/`` and ``resources/`` folders are installed as the packages ``workbench_models``
and ``workbench_resources`` (see ``pyproject.toml``), so a wheel and the packaged build carry the zoo, the recipes
and the demo. A third-party plugin ships its own cards and recipes as package data the same way and names its
package. Newly trained models go to the user's zoo, which is searched first.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from workbench.core.errors import UserError

SHIPPED_ZOO = "workbench_models"
SHIPPED_RESOURCES = "workbench_resources"


def home() -> Path:
    """``$WORKBENCH_HOME``, else ``~/.local/share/workbench``: runs, batches, the user's zoo and caches live here."""
    return Path(os.environ.get("WORKBENCH_HOME") or Path.home() / ".local" / "share" / "workbench")


def runs_dir() -> Path:
    return home() / "runs"


def cache_dir() -> Path:
    return home() / "cache"


def user_zoo() -> Path:
    """Where new models are published: ``$WORKBENCH_ZOO``, else ``$WORKBENCH_HOME/models``.

    The project's developers regenerate the shipped zoo with ``WORKBENCH_ZOO=models workbench batch <recipe>``.
    """
    return Path(os.environ.get("WORKBENCH_ZOO") or home() / "models")


def package_path(package: str) -> Path:
    """The folder of an installed package's data (a real folder in a wheel, an editable or a packaged build)."""
    try:
        root = files(package)
    except ModuleNotFoundError:
        raise UserError(f"package {package!r} is not installed; its assets cannot be read") from None
    return Path(str(root))


def shipped_zoo() -> Path:
    return package_path(SHIPPED_ZOO)


def resource(*parts: str) -> Path:
    """A file of the host's shipped resources (``resources/`` in the source tree)."""
    return package_path(SHIPPED_RESOURCES).joinpath(*parts)
