"""The JSON context that ``{{ }}`` variables are queried from.

It is one JSON document (``request``, ``images``, ``element``, every context entry name, ...).
``checkpoint()``/``restore()`` bracket a rule or a foreach element: top-level keys written after a
checkpoint are undone by the matching restore. Writes never mutate a nested dict in place, so the
copies are shallow and cheap.
"""
from __future__ import annotations

import copy
from typing import Any


class Context:
    __slots__ = ("data", "_stack")

    def __init__(self, data: dict[str, Any] | None = None):
        self.data: dict[str, Any] = dict(data or {})
        self._stack: list[dict[str, Any]] = []

    # -- scoping ---------------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        self._stack.append(self.data)
        self.data = dict(self.data)

    def restore(self) -> None:
        self.data = self._stack.pop()

    def __enter__(self) -> "Context":
        self.checkpoint()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    # -- writing ---------------------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Set a top-level key (a context entry name, ``element``, ...)."""
        self.data[name] = value

    def add_variable(self, path: str, value: Any) -> None:
        """Set a dotted path (``request.object.metadata.name``) without mutating shared nested dicts."""
        parts = split_path(path)
        self.data[parts[0]] = _set_path(self.data.get(parts[0]), parts[1:], value)

    def merge(self, name: str, value: Any) -> None:
        """Deep-merge ``value`` into top-level key ``name`` (Values-file variables beside loaded data)."""
        current = self.data.get(name)
        if isinstance(current, dict) and isinstance(value, dict):
            self.data[name] = _deep_merge(current, value)
        else:
            self.data[name] = value

    def add_element(self, element: Any, index: int, depth: int) -> None:
        """The foreach variables ``element``/``elementIndex`` and their per-depth ``elementN`` twins."""
        self.data["element"] = element
        self.data["elementIndex"] = index
        self.data[f"element{depth}"] = element
        self.data[f"elementIndex{depth}"] = index

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)


def split_path(path: str) -> list[str]:
    """``a.b."c.d"`` -> ``["a", "b", "c.d"]``: dots inside double quotes do not split."""
    parts: list[str] = []
    current = []
    quoted = False
    for ch in path:
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _set_path(node: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    out = dict(node) if isinstance(node, dict) else {}
    out[parts[0]] = _set_path(out.get(parts[0]), parts[1:], value)
    return out


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
