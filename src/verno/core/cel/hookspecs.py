"""The hook plugins use to add CEL libraries (to be listed in :mod:`verno.core.hookspecs` on integration).

A plugin implements::

    @hookimpl
    def verno_register_cel_libraries(register):
        lib = Library("acme.tenancy", plugin="acme")
        lib.fn("tenantOf", ["string"], "string", lambda ns: ns.partition("-")[0])
        register(lib)

and lists the library name in the environments that should see it (``EnvironmentSpec.libraries``).
Registering a library name or an overload id twice is a :class:`~verno.core.errors.PluginError` naming both.
"""
from __future__ import annotations

from collections.abc import Callable

from verno.core.cel.library import Library, LibraryRegistry
from verno.core.hookspecs import hookspec

__all__ = ["collect", "verno_register_cel_libraries"]


@hookspec
def verno_register_cel_libraries(register: Callable[[Library], None]) -> None:
    """Register CEL libraries by calling ``register(library)`` once per library."""


def collect(hook_caller, registry: LibraryRegistry) -> LibraryRegistry:
    """Call every plugin's ``verno_register_cel_libraries`` hook into ``registry``."""
    hook_caller(register=registry.register)
    return registry
