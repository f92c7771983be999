"""Can Qt open a window on X11 here? ``workbench info`` asks before the user meets a SIGABRT.

Qt's xcb platform plugin aborts at start-up when a shared library it links is missing (on a stock Debian
desktop: ``libxcb-cursor0``). This reads the plugin's links with ``ldd`` (no Qt import) and names the
Debian/Ubuntu packages that provide the missing ones.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

_PACKAGES = {"libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libdbus-1.so.3": "libdbus-1-3"}


def xcb_plugin() -> Path | None:
    """The xcb platform plugin shipped with PySide6, or None when PySide6 (or the plugin) is absent."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` reports as "not found", each once, in order."""
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def debian_package(soname: str) -> str:
    """The Debian package that usually ships ``soname`` (``libxcb-cursor.so.0`` -> ``libxcb-cursor0``)."""
    if soname in _PACKAGES:
        return _PACKAGES[soname]
    stem, _, version = soname.partition(".so.")
    version = version.split(".")[0]
    return f"{stem}{'-' if stem[-1:].isdigit() else ''}{version}".lower()


def xcb_check() -> dict[str, object]:
    """``{"plugin", "missing", "packages", "note"}``: what the X11 platform plugin lacks and how to install it."""
    plugin = xcb_plugin()
    if plugin is None:
        return {"plugin": "", "missing": [], "packages": [], "note": "PySide6's xcb platform plugin not found"}
    if shutil.which("ldd") is None:
        return {"plugin": str(plugin), "missing": [], "packages": [], "note": "ldd not available: not checked"}
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30)
    missing = missing_libraries(out.stdout)
    packages = list(dict.fromkeys(debian_package(name) for name in missing))
    note = f"missing {', '.join(missing)}: apt-get install {' '.join(packages)}" if missing else "ok"
    return {"plugin": str(plugin), "missing": missing, "packages": packages, "note": note}
