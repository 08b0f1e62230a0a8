"""CEL literals for JSON values, and Kyverno wildcards as RE2 expressions."""
from __future__ import annotations

import json
from typing import Any

from verno.core.migration.errors import Untranslatable

__all__ = ["cel_literal", "glob_regex"]

_META = set(".^$|?*+()[]{}\\/")


def glob_regex(glob: str) -> str:
    """Kyverno's wildcard (``*`` any run, ``?`` one character) as an anchored RE2 expression."""
    out = []
    for ch in glob:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in _META:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "(?s)^" + "".join(out) + "$"


def cel_literal(value: Any) -> str:
    """A CEL literal for a JSON value (maps and lists as CEL map and list literals)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Untranslatable("a NaN or infinite number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(cel_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {cel_literal(v)}" for k, v in value.items()) + "}"
    raise Untranslatable(f"a {type(value).__name__} value")
