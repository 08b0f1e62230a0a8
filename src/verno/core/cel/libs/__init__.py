"""The built-in CEL libraries (Kubernetes', Kyverno's and kyverno-authz's), and the plugin that registers them.

This module is the built-in plugin (entry point ``cel-libraries``) implementing
``verno_register_cel_libraries``; :func:`default_registry` holds the same libraries for callers that build
an environment without an engine.
"""
from __future__ import annotations

from functools import lru_cache

from verno.core.cel.library import Library, LibraryRegistry
from verno.core.hookspecs import hookimpl

__all__ = ["builtin_libraries", "default_registry", "verno_register_cel_libraries"]


def builtin_libraries() -> list[Library]:
    """Every built-in library, in registration order (each a fresh object)."""
    from verno.core.cel.libs import (authz_envoy, authz_http, authz_jwt, k8s, k8s_authz, k8s_format, k8s_jsonpatch,
                                     kyverno_data, kyverno_encoding, kyverno_generator, kyverno_image, kyverno_imageverify, kyverno_math,
                                     kyverno_random, kyverno_time, kyverno_transform, kyverno_user,
                                     kyverno_x509)

    libraries: list[Library] = [*k8s.libraries(), *k8s_format.libraries(), *k8s_authz.libraries(),
                                *k8s_jsonpatch.libraries()]
    for module in (kyverno_encoding, kyverno_math, kyverno_time, kyverno_random, kyverno_transform,
                   kyverno_user, kyverno_x509, kyverno_image, kyverno_imageverify, kyverno_data, kyverno_generator, authz_envoy, authz_http, authz_jwt):
        libraries.extend(module.libraries())
    for library in libraries:
        library.plugin = "verno"
    return libraries


@hookimpl
def verno_register_cel_libraries(register) -> None:
    for library in builtin_libraries():
        register(library)


@lru_cache(maxsize=1)
def default_registry() -> LibraryRegistry:
    registry = LibraryRegistry()
    for library in builtin_libraries():
        registry.register(library)
    return registry
