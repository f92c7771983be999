"""A cache of the plugin listing, so ``workbench plugins`` reads one file instead of importing every plugin's
manifest (npe2 keeps a manifest cache for the same reason): start-up stays near the interpreter's own.

The listing is keyed by everything that can change it: the site folders (a package installed, upgraded or
removed, hence its entry points), the configuration variables and the files they name, the modification time and
size of every file of the host's packages and of each plugin's package, the plugin folders and the user zoo. Any
change is a miss; a miss builds the listing the slow way and stores it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from workbench.core import assets
from workbench.core.atomic import atomic_write_text

ENTRY_POINT_GROUP = "workbench.plugins"
HOST_PACKAGES = ("workbench", assets.SHIPPED_RESOURCES, assets.SHIPPED_ZOO)
ENV_VARS = ("WORKBENCH_PLUGINS_ALLOW", "WORKBENCH_PLUGINS_DENY", "WORKBENCH_CONFIG", "WORKBENCH_EXTRA_PLUGINS",
            "WORKBENCH_PLUGINS_PATH", "WORKBENCH_ZOO", "WORKBENCH_HOME")
SKIPPED_DIRS = ("__pycache__",)


def _stamp(path: Path, h) -> None:
    """Fold a file's or a whole folder's names, sizes and modification times into ``h``."""
    if path.is_file():
        st = path.stat()
        h.update(f"{path}:{st.st_size}:{st.st_mtime_ns};".encode())
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            st = os.stat(os.path.join(root, name))
            h.update(f"{root}/{name}:{st.st_size}:{st.st_mtime_ns};".encode())


def _package_folder(module: str) -> Path | None:
    """The folder (or file) of ``module``'s top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module.split(":")[0].split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin) if spec.origin else None


def _base_key(variant: str) -> str:
    """A hash of what decides which plugins are installed: the interpreter, the configuration variables and the
    file they name, and the modification time of every folder on ``sys.path`` (installing, upgrading or removing
    a distribution adds or removes an entry in its site folder, so its entry points cannot change unseen)."""
    h = hashlib.sha256(f"{variant}|{sys.version}|{sys.executable}|".encode())
    for name in ENV_VARS:
        h.update(f"{name}={os.environ.get(name)};".encode())
    config = os.environ.get("WORKBENCH_CONFIG")
    watched = [Path(config)] if config else []
    watched += [Path(p) for p in sys.path if p and os.path.isdir(p)]
    for path in watched:
        if path.exists():
            h.update(f"{path}:{path.stat().st_mtime_ns};".encode())
    return h.hexdigest()


def _package_folders() -> list[str]:
    """The folders of the host's packages and of every plugin module (entry points and
    ``WORKBENCH_EXTRA_PLUGINS``): the slow part of the key, as it reads every distribution's entry points."""
    from importlib.metadata import entry_points

    modules = list(HOST_PACKAGES)
    modules += [ep.value for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)]
    modules += [p.partition("=")[2] for p in os.environ.get("WORKBENCH_EXTRA_PLUGINS", "").split(",") if p.strip()]
    return [str(folder) for folder in map(_package_folder, modules) if folder is not None]


def listing_key(base: str, package_folders: list[str]) -> str:
    """``base`` (:func:`_base_key`) with the files of the package folders, the plugin folders and the user zoo."""
    from workbench.core.plugin_folders import plugin_folders

    h = hashlib.sha256(base.encode())
    for folder in [*map(Path, package_folders), *plugin_folders(), assets.user_zoo()]:
        if folder.exists():
            _stamp(folder, h)
    return h.hexdigest()


def cached_listing(build: Callable[[], str], variant: str) -> str:
    """The listing from the cache when its key still matches, else ``build()`` (stored for next time).

    The package folders are stored with the listing and reused while the base key matches, so a hit reads no
    entry points.
    """
    path = assets.cache_dir() / "plugins" / f"listing-{variant}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no cache yet, or a damaged one: a miss
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    base = _base_key(variant)
    folders = doc.get("folders")
    if doc.get("base") != base or not (isinstance(folders, list) and all(isinstance(f, str) for f in folders)):
        folders = _package_folders()
    key = listing_key(base, folders)
    if doc.get("key") == key and isinstance(doc.get("text"), str):
        return doc["text"]
    text = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": key, "base": base, "folders": folders, "text": text}))
    except OSError:
        pass  # a read-only home still lists plugins, only without the cache
    return text


def can_use_cache() -> bool:
    """Not when this process already holds a plugin host (a test's or an embedding app's) or traces hook calls."""
    plugins = sys.modules.get("workbench.core.plugins")
    if plugins is not None and getattr(plugins, "_HOST", None) is not None:
        return False
    return os.environ.get("WORKBENCH_TRACE_PLUGINS", "").lower() not in ("1", "true", "yes")
