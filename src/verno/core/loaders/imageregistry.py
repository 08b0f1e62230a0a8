"""``imageRegistry`` context entries: image metadata (manifest, config) from an OCI registry.

Registries are reached only when allowed (``--registry``) and a registry client is configured;
otherwise the entry is left to a Values file, as Kyverno's CLI does.
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import ContextLoadError, VernoError
from verno.core.loaders.run import SKIP, apply_jmespath


def load(settings: dict[str, Any], rc) -> Any:
    client = getattr(rc.sources, "registry_client", None)
    if not rc.sources.registry_access or client is None:
        return SKIP
    resolved = rc.substitute({k: v for k, v in settings.items() if k != "jmesPath"})
    reference = resolved.get("reference") or ""
    try:
        data = client.image_data(reference, resolved.get("imageRegistryCredentials") or {})
    except VernoError as exc:
        raise ContextLoadError(f"failed to fetch image data for {reference}: {exc}") from None
    path = settings.get("jmesPath") or ""
    return apply_jmespath(rc, path, data) if path else data
