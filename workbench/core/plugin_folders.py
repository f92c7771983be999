"""Extra plugin folders: plugins added to an installed (or packaged) workbench without rebuilding it.

A folder named by ``$WORKBENCH_PLUGINS_PATH`` (``os.pathsep``-separated), or the ``plugins`` folder beside a
packaged app, holds wheels (``*.whl``) and unpacked packages (a ``pip install --target`` folder, or one sub-folder
per unpacked wheel: anything with a ``*.dist-info``). Wheels are unpacked once into ``$WORKBENCH_HOME/cache``.
Each folder is appended to ``sys.path`` (the app's own packages always win) and its distributions' entry points in
the ``workbench.plugins`` group are handed to the plugin host. A corrupt wheel, a missing folder or a requirement
the running workbench does not meet is reported as a failed plugin with the reason, never raised.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core import assets

if TYPE_CHECKING:  # importlib.metadata is imported where used: plugin_folders() is on the GUI's first-frame path
    from importlib.metadata import Distribution, EntryPoint

PATH_VARIABLE = "WORKBENCH_PLUGINS_PATH"


@dataclass
class FoundPlugin:
    """One plugin found in an extra folder: an entry point to load, or the reason it cannot be loaded."""

    name: str
    source: Path
    entry: EntryPoint | None = None
    version: str = ""
    error: str = ""


def app_plugins_folder() -> Path | None:
    """The ``plugins`` folder beside a packaged app (``<prefix>/lib/alignment-workbench/plugins``); none from source."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(sys.executable).resolve().parent.parent / "plugins"


def plugin_folders() -> list[Path]:
    """The folders searched for extra plugins: ``$WORKBENCH_PLUGINS_PATH`` first, then the app's own."""
    named = [Path(p) for p in os.environ.get(PATH_VARIABLE, "").split(os.pathsep) if p.strip()]
    app = app_plugins_folder()
    return named + ([app] if app is not None and app.is_dir() else [])


def wheel_cache() -> Path:
    """Where wheels from plugin folders are unpacked (keyed by name and content hash)."""
    return assets.cache_dir() / "plugin-wheels"


def is_extra(dist: Distribution) -> bool:
    """Whether ``dist`` sits in a plugin folder or the wheel cache (the host lists those through :func:`discover`)."""
    where = Path(str(dist.locate_file(""))).resolve()
    roots = [r.resolve() for r in (*plugin_folders(), wheel_cache())]
    return any(where == r or r in where.parents for r in roots)


def discover(folders: list[Path] | None = None, group: str = "workbench.plugins") -> list[FoundPlugin]:
    """Every plugin entry point in ``folders`` (default :func:`plugin_folders`), each site added to ``sys.path``."""
    found: list[FoundPlugin] = []
    sites: list[Path] = []
    for folder in plugin_folders() if folders is None else folders:
        if not folder.is_dir():
            found.append(FoundPlugin(name=folder.name or str(folder), source=folder,
                                     error=f"{PATH_VARIABLE} names {folder}, which is not a folder"))
            continue
        for wheel in sorted(folder.glob("*.whl")):
            try:
                sites.append(_unpacked(wheel))
            except _BadWheel as exc:
                found.append(FoundPlugin(name=wheel.name, source=wheel, error=str(exc)))
        sites += [p for p in [folder, *sorted(folder.iterdir())] if p.is_dir() and any(p.glob("*.dist-info"))]
    for site in sites:
        if str(site) not in sys.path:
            sys.path.append(str(site))
    from importlib.metadata import distributions

    for site in sites:
        for dist in distributions(path=[str(site)]):
            problem = unmet_requirement(dist)
            for ep in dist.entry_points.select(group=group):
                found.append(FoundPlugin(name=ep.name, source=site, entry=None if problem else ep,
                                         version=dist.version, error=problem))
    return found


def unmet_requirement(dist: Distribution) -> str:
    """Why ``dist`` cannot run here (Python version, a missing or too old/new requirement), or ``""``."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    name = dist.metadata["Name"]
    try:
        python = SpecifierSet(dist.metadata["Requires-Python"] or "")
    except InvalidSpecifier:
        return f"{name}: unreadable Requires-Python {dist.metadata['Requires-Python']!r}"
    if not python.contains(platform.python_version(), prereleases=True):
        return f"{name} requires Python {python}, this workbench runs Python {platform.python_version()}"
    problems = []
    for line in dist.requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            problems.append(f"unreadable requirement {line!r}")
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            have = version(req.name)
        except PackageNotFoundError:
            problems.append(f"requires {req}, which is not installed")
            continue
        if not req.specifier.contains(have, prereleases=True):
            problems.append(f"requires {req}, but {req.name} {have} is installed")
    return f"{name}: " + "; ".join(problems) if problems else ""


class _BadWheel(Exception):
    """A plugin wheel that cannot be unpacked; the plugin is listed as failed with this message."""


def _unpacked(wheel: Path) -> Path:
    """The folder ``wheel`` is unpacked into (once per content hash, atomically); a corrupt wheel raises."""
    try:
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:16]
        with zipfile.ZipFile(wheel) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise _BadWheel(f"corrupt wheel {wheel}: member {bad} fails its checksum; rebuild or copy it again")
            if not any(n.endswith(".dist-info/METADATA") for n in archive.namelist()):
                raise _BadWheel(f"{wheel} is not a wheel: it has no *.dist-info/METADATA")
            target = wheel_cache() / f"{wheel.stem}-{digest}"
            if not target.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
                archive.extractall(staging)
                try:
                    staging.rename(target)
                except OSError:  # another process unpacked it first
                    shutil.rmtree(staging, ignore_errors=True)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _BadWheel(f"corrupt wheel {wheel}: {exc}; rebuild or copy it again") from None
    return target
