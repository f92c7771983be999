"""Plugin discovery: each entry point is loaded and registered on its own, failures are kept, not raised.

pluggy's ``load_setuptools_entrypoints`` aborts on the first broken plugin; this loop isolates each one
so a broken plugin is listed as failed with its traceback while the others work.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Literal

import pluggy

from workbench.core import assets, hookspecs, plugin_folders
from workbench.core.errors import RegistryError, UserError
from workbench.core.manifest_cache import ENTRY_POINT_GROUP
from workbench.core.registry import Registry, read_card

HOST_PLUGINS = ("workbench.builtins",)
HOOK_NAMES = tuple(n for n in dir(hookspecs) if n.startswith("workbench_"))


@dataclass
class PluginInfo:
    """One plugin's status as shown by ``workbench plugins`` and greyed out in the GUI when failed."""

    name: str
    module: str
    version: str = ""
    status: Literal["loaded", "failed", "disabled"] = "loaded"
    error: str = ""
    source: str = ""
    traceback: str = ""
    tasks: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _split_env(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    return None if raw is None else {p.strip() for p in raw.split(",") if p.strip()}


def _env_extra() -> dict[str, str]:
    """``WORKBENCH_EXTRA_PLUGINS=name=module,...``: plugins loaded without an installed entry point.

    Worker subprocesses inherit it, so a development plugin runs there too.
    """
    pairs = [p.partition("=") for p in os.environ.get("WORKBENCH_EXTRA_PLUGINS", "").split(",") if p.strip()]
    return {name.strip(): module.strip() for name, _, module in pairs}


def _read_config(path: Path) -> dict:
    """The ``plugins`` section of the YAML file named by ``WORKBENCH_CONFIG``; a bad file is a clear error."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"WORKBENCH_CONFIG={path}: cannot read the configuration ({exc})") from None
    plugins = data.get("plugins", {}) if isinstance(data, dict) else None
    if not isinstance(plugins, dict) or not all(
            isinstance(plugins.get(k), (list, type(None))) for k in ("allow", "deny")):
        raise UserError(f"WORKBENCH_CONFIG={path}: expected 'plugins: {{allow: [names], deny: [names]}}'")
    return plugins


def _config_lists() -> tuple[set[str] | None, set[str]]:
    """Allow/deny lists from ``$WORKBENCH_CONFIG`` (YAML ``plugins: {allow: [...], deny: [...]}``) and env."""
    allow: set[str] | None = None
    deny: set[str] = set()
    cfg_path = os.environ.get("WORKBENCH_CONFIG")
    if cfg_path:
        plugins = _read_config(Path(cfg_path))
        if plugins.get("allow") is not None:
            allow = set(plugins["allow"])
        deny |= set(plugins.get("deny") or [])
    env_allow = _split_env("WORKBENCH_PLUGINS_ALLOW")
    if env_allow is not None:
        allow = env_allow
    deny |= _split_env("WORKBENCH_PLUGINS_DENY") or set()
    return allow, deny


class PluginHost:
    """Loads plugins one by one into a pluggy manager and a :class:`Registry`.

    The host's own contributions (families, base result kinds, shipped recipes) come from
    :mod:`workbench.builtins`, registered through the same hooks as any plugin. Each plugin's hooks are called
    through pluggy with a subset caller limited to that plugin, so hook monitoring and tracing see every call
    while one failing plugin never stops the others. When loading ends, tasks whose family is unknown are
    rejected and tasks whose required plugins are not loaded are marked unavailable with the reason.
    """

    def __init__(
        self,
        *,
        discover: bool = True,
        extra: dict[str, str | ModuleType] | None = None,
        allow: set[str] | None = None,
        deny: set[str] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get("WORKBENCH_TRACE_PLUGINS", "").lower() in ("1", "true", "yes"):
            self.pm.trace.root.setwriter(lambda text: sys.stderr.write(f"[plugins] {text}"))
            self.pm.enable_tracing()
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}
        cfg_allow, cfg_deny = _config_lists()
        self._allow = allow if allow is not None else cfg_allow
        self._deny = (deny or set()) | cfg_deny
        for module in HOST_PLUGINS:
            self._load("host", module, version="", builtin=True)
        if discover:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                if ep.dist is not None and plugin_folders.is_extra(ep.dist):
                    continue
                version = ep.dist.version if ep.dist else ""
                self._load(ep.name, ep, version=version)
            self._load_folders()
        for name, target in {**_env_extra(), **(extra or {})}.items():
            self._load(name, target, version="")
        self._add_user_zoo()
        self._check_families()
        self._check_requirements()
        for info in self.plugins.values():
            info.tasks = sorted(t.id for t in self.registry.tasks.of_plugin(info.name))
            info.rejected = [r.reason for r in self.registry.rejected if r.plugin == info.name]

    def _load(self, name: str, target, *, version: str, builtin: bool = False) -> None:
        module_name = getattr(target, "value", None) or getattr(target, "__name__", None) or str(target)
        info = PluginInfo(name=name, module=module_name, version=version)
        self.plugins[name] = info
        if not builtin and (name in self._deny or (self._allow is not None and name not in self._allow)):
            info.status = "disabled"
            return
        try:
            if isinstance(target, ModuleType):
                module = target
            elif isinstance(target, str):
                module = import_module(target)
            else:
                module = target.load()
            _check_hook_names(module)
            self.pm.register(module, name=name)
            self._call_hooks(name)
        except Exception as exc:  # one plugin must never break the others
            if self.pm.get_plugin(name) is not None:
                self.pm.unregister(name=name)
            self.registry.drop_plugin(name)
            info.status = "failed"
            info.error = f"{type(exc).__name__}: {exc}"
            info.traceback = traceback.format_exc()

    def _load_folders(self) -> None:
        """Plugins from the extra plugin folders (wheels, unpacked packages); see :mod:`plugin_folders`."""
        for found in plugin_folders.discover(group=ENTRY_POINT_GROUP):
            name, error = found.name, found.error
            if name in self.plugins:
                name, error = f"{name} ({found.source.name})", f"a plugin named {name!r} is already installed"
            if error:
                self.plugins[name] = PluginInfo(name=name, module=str(found.source), version=found.version,
                                                status="failed", error=error, source=str(found.source))
            else:
                self._load(name, found.entry, version=found.version)
                self.plugins[name].source = str(found.source)

    def _call_hooks(self, name: str) -> None:
        """Call every hook of plugin ``name`` through pluggy, handing it a registry stamped with its name."""
        others = [p for n, p in self.pm.list_name_plugin() if n != name]
        scoped = self.registry.scoped(name)
        for hook_name in HOOK_NAMES:
            self.pm.subset_hook_caller(hook_name, remove_plugins=others)(registry=scoped)

    def _add_user_zoo(self) -> None:
        """Models published into the user's zoo under ids no plugin registered: listed under their card's plugin."""
        root = assets.user_zoo()
        if not root.is_dir():
            return
        for path in sorted(root.glob("*/card.json")):
            try:
                card = read_card(path)
            except RegistryError as exc:
                self.registry.reject("host", "model", path.parent.name, str(exc))
                continue
            info = self.plugins.get(card.plugin)
            if card.id not in self.registry.models and info is not None and info.status == "loaded":
                self.registry.models.add(card)

    def _check_families(self) -> None:
        for spec in self.registry.tasks.values():
            if self.registry.families.find(spec.family) is None:
                self.registry.reject(spec.plugin, "task", spec.id, f"task {spec.id!r}: unknown family "
                                     f"{spec.family!r}; known: {', '.join(sorted(self.registry.families))}")
                self.registry.tasks.remove(spec)

    def _check_requirements(self) -> None:
        for spec in self.registry.tasks.values():
            missing = []
            for required in spec.requires:
                info = self.plugins.get(required)
                if info is None:
                    missing.append(f"plugin {required!r} is not installed")
                elif info.status != "loaded":
                    missing.append(f"plugin {required!r} is {info.status}"
                                   + (f" ({info.error})" if info.error else ""))
            if missing:
                self.registry.unavailable[spec.qualified_id] = "; ".join(missing)

    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status == "failed"]


def _check_hook_names(module) -> None:
    """A ``workbench_*`` attribute that is no hook is a typo the plugin's author wants to hear about."""
    unknown = [attr for attr in dir(module) if attr.startswith("workbench_") and attr not in HOOK_NAMES]
    if unknown:
        raise pluggy.PluginValidationError(module, f"unknown hook(s) {unknown}; known: {list(HOOK_NAMES)}")


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def reset_host(host: PluginHost | None = None) -> None:
    """Replace the process-wide host (tests, or after changing the allow/deny configuration)."""
    global _HOST
    _HOST = host
