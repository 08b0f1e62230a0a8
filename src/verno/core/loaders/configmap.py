"""``configMap`` context entries: the whole ConfigMap object, from the cluster.

Offline (no cluster client) the entry is left to a Values file, as Kyverno's CLI does.
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import ContextLoadError
from verno.core.loaders.run import SKIP


def load(settings: dict[str, Any], rc) -> Any:
    cluster = rc.sources.cluster
    if cluster is None:
        return SKIP
    resolved = rc.substitute(settings)
    name = resolved.get("name") or ""
    namespace = resolved.get("namespace") or "default"
    cm = cluster.get_configmap(namespace, name)
    if cm is None:
        raise ContextLoadError(f"failed to get configmap {namespace}/{name}: not found")
    return cm
