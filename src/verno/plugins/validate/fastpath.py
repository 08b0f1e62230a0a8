"""A compiled pass/not-pass check for the common validate patterns.

Most resources pass most rules. For a pattern built only from plain keys, scalars, lists, equality
``=()`` and negation ``X()`` anchors (no condition, global or existence anchors, no wildcard label keys),
whether a resource passes is a plain conjunction that can be compiled once into closures. The compiled
check answers "passes"; anything else goes to the full walker in ``pattern.py``, which produces Kyverno's
exact failure path and message. The check never decides a failure, so it cannot change a verdict.
"""
from __future__ import annotations

from typing import Any, Callable

from verno.core.memo import IdentityMemo
from verno.plugins.validate.anchors import EQUALITY, NEGATION, parse_anchor
from verno.plugins.validate.scalars import validate_scalar

Check = Callable[[Any], bool]
_SCALARS = (str, int, float, bool, type(None))


class _NotCompilable(Exception):
    pass


def _scalar(pattern: Any) -> Check:
    def check(value: Any) -> bool:
        if isinstance(value, list):
            return all(validate_scalar(item, pattern) for item in value)
        return validate_scalar(value, pattern)

    return check


def _key_check(key: str, value: Any) -> Check:
    anchor = parse_anchor(key)
    if anchor is not None and anchor.modifier == EQUALITY:
        name, sub = anchor.key, _compile(value)
        return lambda r: name not in r or sub(r[name])
    if anchor is not None and anchor.modifier == NEGATION:
        name = anchor.key
        return lambda r: name not in r
    if anchor is not None and anchor.modifier != "+":
        raise _NotCompilable  # condition, global, existence: skip semantics need the full walker
    if isinstance(value, str) and value == "*":
        return lambda r: r.get(key) is not None
    sub = _compile(value)
    return lambda r: sub(r.get(key))


def _map(pattern: dict[str, Any]) -> Check:
    from verno.plugins.validate.pattern import _has_metadata_wildcards

    if _has_metadata_wildcards(pattern):
        raise _NotCompilable
    checks = tuple(_key_check(k, v) for k, v in pattern.items())
    if len(checks) == 1:
        only = checks[0]
        return lambda r: isinstance(r, dict) and only(r)
    return lambda r: isinstance(r, dict) and all(c(r) for c in checks)


def _list(pattern: list[Any]) -> Check:
    if not pattern:
        raise _NotCompilable
    first = pattern[0]
    if isinstance(first, dict):
        each = _map(first)
        return lambda r: isinstance(r, list) and all(each(x) for x in r)
    if isinstance(first, _SCALARS):
        scalar = _scalar(first)
        return lambda r: isinstance(r, list) and scalar(r)
    subs = tuple(_compile(p) for p in pattern)
    n = len(subs)
    return lambda r: isinstance(r, list) and len(r) >= n and all(f(x) for f, x in zip(subs, r))


def _compile(pattern: Any) -> Check:
    if isinstance(pattern, dict):
        return _map(pattern)
    if isinstance(pattern, list):
        return _list(pattern)
    if isinstance(pattern, _SCALARS):
        return _scalar(pattern)
    raise _NotCompilable


def _compile_or_none(pattern: Any) -> Check | None:
    try:
        return _compile(pattern)
    except _NotCompilable:
        return None


#: pattern (a policy-owned object) -> its compiled check, or None when it needs the full walker
passes_check = IdentityMemo(_compile_or_none)
