"""``make_patch(original, mutated)``: the RFC 6902 JSON Patch that turns one document into another.

The webhook returns it as the admission response's patch, so it must be correct and small:

* maps are compared key by key: ``add`` / ``remove`` / recurse, never a whole-object replace when a
  field changed;
* lists are aligned with a longest common subsequence (common ends trimmed; ``difflib`` above
  ``LCS_LIMIT`` cells), so an insertion or removal is
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


#: above this many cells the exact LCS table is replaced by difflib's heuristic matching
LCS_LIMIT = 250_000


def _opcodes(fa: list[str], fb: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes from an exact longest common subsequence (common ends trimmed first)."""
    start = 0
    while start < len(fa) and start < len(fb) and fa[start] == fb[start]:
        start += 1
    end_a, end_b = len(fa), len(fb)
    while end_a > start and end_b > start and fa[end_a - 1] == fb[end_b - 1]:
        end_a -= 1
        end_b -= 1
    ma, mb = fa[start:end_a], fb[start:end_b]
    if len(ma) * len(mb) > LCS_LIMIT:
        inner = SequenceMatcher(None, ma, mb, autojunk=False).get_opcodes()
    else:
        inner = _lcs_opcodes(ma, mb)
    out = [("equal", 0, start, 0, start)] if start else []
    out += [(t, i1 + start, i2 + start, j1 + start, j2 + start) for t, i1, i2, j1, j2 in inner]
    if end_a < len(fa):
        out.append(("equal", end_a, len(fa), end_b, len(fb)))
    return out


def _lcs_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if a[i] == b[j] else max(below[j], row[j + 1])
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    ops: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    for pi, pj in pairs + [(n, m)]:
        if i < pi and j < pj:
            ops.append(("replace", i, pi, j, pj))
        elif i < pi:
            ops.append(("delete", i, pi, j, j))
        elif j < pj:
            ops.append(("insert", i, i, j, pj))
        if pi < n:
            ops.append(("equal", pi, pi + 1, pj, pj + 1))
        i, j = pi + 1, pj + 1
    return ops


def _diff_list(a: list[Any], b: list[Any], path: str, ops: list[dict[str, Any]]) -> None:
    fa = [_fingerprint(x) for x in a]
    fb = [_fingerprint(x) for x in b]
    offset = 0  # current index of a[i] in the partly patched list is i + offset
    for tag, i1, i2, j1, j2 in _opcodes(fa, fb):
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
