"""The identity fields of a Kubernetes object, typed as the API server types them.

A resource whose ``apiVersion``, ``kind`` or ``metadata`` fields have other types cannot exist in a
cluster (the API server's decoder rejects it), and matching cannot read it: it is an input error naming
the field, never a crash or a silent pass.
"""
from __future__ import annotations

from typing import Any

#: ObjectMeta fields that are strings and that matching reads (others, such as a ``resourceVersion`` or a
#: ``creationTimestamp`` a YAML file wrote unquoted, are left as they are, as Kyverno's CLI leaves them)
STRING_META = ("name", "generateName", "namespace")
#: ObjectMeta fields that are string-to-string maps
MAP_META = ("labels", "annotations")


def type_name(value: Any) -> str:
    """How a message names a JSON value's type ("a list", "a mapping", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def object_problem(obj: dict[str, Any], *, kind_required: bool = True) -> tuple[str, str] | None:
    """``(field, message)`` for the first identity field of ``obj`` with the wrong type, or None."""
    for key in ("apiVersion", "kind"):
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            return key, f"must be a string, got {type_name(value)}"
    if kind_required and not obj.get("kind"):
        return "kind", "a resource needs a kind"
    meta = obj.get("metadata")
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return "metadata", "metadata must be a mapping"
    for key in STRING_META:
        value = meta.get(key)
        if value is not None and not isinstance(value, str):
            return f"metadata.{key}", f"must be a string, got {type_name(value)}"
    for key in MAP_META:
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return f"metadata.{key}", f"must be a mapping of strings, got {type_name(value)}"
        for k, v in value.items():
            if v is not None and not isinstance(v, str):
                hint = " (quote it)" if isinstance(v, (bool, int, float)) else ""
                return f"metadata.{key}.{k}", f"must be a string, got {type_name(v)}{hint}"
    return None


def first_non_finite(value: Any) -> float | None:
    """The first NaN or infinity anywhere in a JSON-like value (JSON has neither), or None."""
    import math

    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, float) and not math.isfinite(v):
            return v
    return None
