"""``globalReference`` context entries: data of a GlobalContextEntry, then JMESPath.

Offline, an entry that no Test ``globalContextEntries`` mock provides is left to a Values file, as
Kyverno's CLI does.
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import ContextLoadError
from verno.core.loaders.run import SKIP, apply_jmespath


def load(settings: dict[str, Any], rc) -> Any:
    name = rc.substitute(settings.get("name") or "")
    entries = rc.sources.global_context
    if name not in entries:
        if rc.sources.cluster is None:
            return SKIP
        raise ContextLoadError(f"global context entry {name!r} not found")
    data = entries[name]
    path = settings.get("jmesPath") or ""
    return apply_jmespath(rc, path, data) if path else data
