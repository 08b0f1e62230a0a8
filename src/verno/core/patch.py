"""``make_patch(original, mutated)``: the RFC 6902 JSON Patch that turns one document into another.

The webhook returns it as the admission response's patch, so it must be correct and small:

* maps are compared key by key: ``add`` / ``remove`` / recurse, never a whole-object replace when a
  field changed;
* lists are aligned with a longest-common-subsequence match (``difflib``), so an insertion or removal is
  one ``add`` / ``remove`` at the right index; paired elements that differ are patched recursively;
* paths are RFC 6901 pointers (``~`` -> ``~0``, ``/`` -> ``~1``);
* values are compared with their JSON type (``true`` is not ``1``).

Operations are emitted in application order: every index is valid at the moment its operation runs.
"""
from __future__ import annotations

import copy
import json
from difflib import SequenceMatcher
from typing import Any

__all__ = ["escape", "json_equal", "make_patch"]


def escape(token: str) -> str:
    """One RFC 6901 reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def json_equal(a: Any, b: Any) -> bool:
    """Equality with JSON types: ``True != 1``, ``1 == 1.0``, maps by keys, lists by position."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _fingerprint(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def make_patch(original: Any, mutated: Any) -> list[dict[str, Any]]:
    """The JSON Patch operations that turn ``original`` into ``mutated`` (inputs are not modified)."""
    ops: list[dict[str, Any]] = []
    _diff(original, mutated, "", ops)
    return ops


def _diff(a: Any, b: Any, path: str, ops: list[dict[str, Any]]) -> None:
    if json_equal(a, b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        _diff_map(a, b, path, ops)
    elif isinstance(a, list) and isinstance(b, list):
        _diff_list(a, b, path, ops)
    else:
        ops.append({"op": "replace", "path": path, "value": copy.deepcopy(b)})


def _diff_map(a: dict[str, Any], b: dict[str, Any], path: str, ops: list[dict[str, Any]]) -> None:
    for key in a:
        if key not in b:
            ops.append({"op": "remove", "path": f"{path}/{escape(key)}"})
    for key, value in b.items():
        child = f"{path}/{escape(key)}"
        if key in a:
            _diff(a[key], value, child, ops)
        else:
            ops.append({"op": "add", "path": child, "value": copy.deepcopy(value)})


def _diff_list(a: list[Any], b: list[Any], path: str, ops: list[dict[str, Any]]) -> None:
    fa = [_fingerprint(x) for x in a]
    fb = [_fingerprint(x) for x in b]
    matcher = SequenceMatcher(None, fa, fb, autojunk=False)
    offset = 0  # current index of a[i] in the partly patched list is i + offset
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            _diff(a[i1 + k], b[j1 + k], f"{path}/{i1 + k + offset}", ops)
        removed = (i2 - i1) - paired
        at = i1 + paired + offset
        for _ in range(removed):
            ops.append({"op": "remove", "path": f"{path}/{at}"})
        offset -= removed
        for k in range(paired, j2 - j1):
            ops.append({"op": "add", "path": f"{path}/{i1 + k + offset}", "value": copy.deepcopy(b[j1 + k])})
        offset += (j2 - j1) - paired
