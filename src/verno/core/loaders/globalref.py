"""``globalReference`` context entries: data of a GlobalContextEntry, then JMESPath."""
from __future__ import annotations

from typing import Any

from verno.core.errors import ContextLoadError
from verno.core.loaders.run import apply_jmespath


def load(settings: dict[str, Any], rc) -> Any:
    name = rc.substitute(settings.get("name") or "")
    entries = rc.sources.global_context
    if name not in entries:
        raise ContextLoadError(f"global context entry {name!r} not found")
    data = entries[name]
    path = settings.get("jmesPath") or ""
    return apply_jmespath(rc, path, data) if path else data
