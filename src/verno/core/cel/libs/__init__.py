"""The built-in CEL libraries (Kubernetes' and Kyverno's) and the default registry holding them."""
from __future__ import annotations

from functools import lru_cache

from verno.core.cel.library import LibraryRegistry

__all__ = ["builtin_libraries", "default_registry"]


def builtin_libraries():
    """Every built-in library, in registration order."""
    from verno.core.cel.libs import k8s

    return [*k8s.libraries()]


@lru_cache(maxsize=1)
def default_registry() -> LibraryRegistry:
    registry = LibraryRegistry()
    for library in builtin_libraries():
        registry.register(library)
    return registry
