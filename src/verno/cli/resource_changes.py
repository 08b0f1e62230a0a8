"""The structural changes between two versions of a resource, as minimal edits.

Walking old against new: a key missing in new is removed, a key new in new is added (at the end of its
mapping), a scalar that differs is set in place, lists are compared element by element (extra elements
appended, missing ones truncated). ``verno fix`` applies these edits to the source documents;
``verno diff`` shows them as what a mutation does.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

Path = tuple[Any, ...]

SET, ADD, REMOVE, APPEND, TRUNCATE = "set", "add", "remove", "append", "truncate"


@dataclass(frozen=True)
class Change:
    op: str  # set | add | remove | append | truncate
    path: Path
    #: the new value (set, add, append), the new length (truncate), None (remove)
    value: Any = None

    def describe(self) -> str:
        where = format_path(self.path)
        if self.op == REMOVE:
            return f"-{where}"
        if self.op == TRUNCATE:
            return f"{where}: truncated to {self.value} item(s)"
        return f"{where}={short(self.value)}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "path": format_path(self.path)}
        if self.op != REMOVE:
            out["value"] = self.value
        return out


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values: ``1 == 1.0``, but ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def changes(old: Any, new: Any, path: Path = ()) -> list[Change]:
    """The edits that turn ``old`` into ``new`` (see the module docstring)."""
    out: list[Change] = []
    _walk(old, new, path, out)
    return out


def _walk(old: Any, new: Any, path: Path, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            if key not in new:
                out.append(Change(REMOVE, path + (key,)))
        for key, value in new.items():
            if key in old:
                _walk(old[key], value, path + (key,), out)
            else:
                out.append(Change(ADD, path + (key,), value))
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(min(len(old), len(new))):
            _walk(old[i], new[i], path + (i,), out)
        if len(new) > len(old):
            out.extend(Change(APPEND, path + (i,), new[i]) for i in range(len(old), len(new)))
        elif len(new) < len(old):
            out.append(Change(TRUNCATE, path, len(new)))
    elif not same(old, new):
        out.append(Change(SET, path, new))


def apply_plain(root: Any, edits: list[Change]) -> Any:
    """``root`` (plain dicts and lists, changed in place) with ``edits`` applied; returns the root."""
    for change in edits:
        if not change.path:
            return change.value
        parent = root
        for part in change.path[:-1]:
            parent = parent[part]
        last = change.path[-1]
        if change.op == TRUNCATE:
            target = parent[last]
            del target[change.value:]
        elif change.op == REMOVE:
            if isinstance(parent, dict):
                parent.pop(last, None)
            else:
                del parent[last]
        elif change.op == APPEND:
            parent.append(change.value)
        else:
            parent[last] = change.value
    return root


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Path) -> str:
    """``spec.containers[0].image``; keys that are not plain names in brackets (``labels["app.x/y"]``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out or "(the whole resource)"


def short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit - 3] + "..."
