"""Building the plugin manager an Engine owns: entry points, the blocklist, hook validation."""
from __future__ import annotations

import os
from importlib.metadata import entry_points
from typing import Any, Iterable

import pluggy

from verno.core import hookspecs
from verno.core.errors import PluginError

ENTRY_POINT_GROUP = "verno"
DISABLE_ENV = "VERNO_DISABLE_PLUGINS"


def disabled_from_env(environ: dict[str, str] | None = None) -> set[str]:
    """Plugin names listed (comma separated) in ``VERNO_DISABLE_PLUGINS``."""
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def build_plugin_manager(
    plugins: Iterable[Any] = (),
    *,
    load_entrypoints: bool = True,
    disabled: Iterable[str] | None = None,
) -> pluggy.PluginManager:
    """A fresh plugin manager with the entry-point plugins (minus the disabled ones) and ``plugins``.

    ``plugins`` may hold modules, objects or ``(name, plugin)`` pairs.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = set(disabled) if disabled is not None else disabled_from_env()
    for name in blocked:
        pm.set_blocked(name)
    if load_entrypoints:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party package must not be a traceback
                raise PluginError(f"plugin {ep.name} ({ep.value}) failed to load: {exc}") from exc
            pm.register(plugin, name=ep.name)
    for item in plugins:
        name, plugin = item if isinstance(item, tuple) else (None, item)
        if name and pm.is_blocked(name):
            continue
        pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc
    return pm


def plugin_name(pm: pluggy.PluginManager, plugin: Any) -> str:
    return pm.get_name(plugin) or repr(plugin)


def call_registry_hook(pm: pluggy.PluginManager, hook_name: str, registry: Any) -> None:
    """Call one ``verno_register_*`` hook plugin by plugin, each with its own ``register`` callable."""
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():
        name = plugin_name(pm, impl.plugin)
        impl.function(registry.registrar(name))


def handlers_of(pm: pluggy.PluginManager, hook_name: str) -> list[str]:
    hook = getattr(pm.hook, hook_name)
    return [plugin_name(pm, impl.plugin) for impl in hook.get_hookimpls()]
