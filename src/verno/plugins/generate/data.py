"""generate ``data``: the object is the (substituted) data plus apiVersion, kind and metadata."""
from __future__ import annotations

import copy
from typing import Any

from verno.plugins.generate.pattern import GenerateError, Target


def from_data(target: Target, data: Any) -> dict[str, Any] | None:
    """The object a ``data`` pattern creates; None when the pattern has no data (Kyverno skips it)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise GenerateError(f"generate.data must be an object, got {type(data).__name__}")
    obj = copy.deepcopy(data)
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise GenerateError("generate.data.metadata must be an object")
    obj["apiVersion"] = target.api_version or obj.get("apiVersion", "")
    obj["kind"] = target.kind or obj.get("kind", "")
    out: dict[str, Any] = {"apiVersion": obj.pop("apiVersion"), "kind": obj.pop("kind"),
                           "metadata": dict(meta or {})}
    obj.pop("metadata", None)
    out.update(obj)
    return out
