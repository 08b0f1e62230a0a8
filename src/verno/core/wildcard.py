"""Kyverno's wildcard matching: ``*`` is any run of characters, ``?`` exactly one; no escapes.

Matching is linear in time (the two-pointer algorithm with one backtrack point), so a pattern such as
``*a*a*a*a*b`` cannot blow up.
"""
from __future__ import annotations

from functools import lru_cache


def has_wildcard(s: str) -> bool:
    return "*" in s or "?" in s


def match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``. An empty pattern matches only the empty string."""
    if pattern == text:
        return True
    if "*" not in pattern and "?" not in pattern:
        return False
    if pattern == "*":
        return True
    return _matcher(pattern)(text)


@lru_cache(maxsize=4096)
def _matcher(pattern: str):
    # fast paths for the common shapes
    body = pattern[1:-1] if len(pattern) >= 2 else ""
    if "?" not in pattern:
        if pattern.endswith("*") and "*" not in pattern[:-1]:
            prefix = pattern[:-1]
            return lambda t: t.startswith(prefix)
        if pattern.startswith("*") and "*" not in pattern[1:]:
            suffix = pattern[1:]
            return lambda t: t.endswith(suffix)
        if pattern.startswith("*") and pattern.endswith("*") and "*" not in body:
            return lambda t: body in t
    return lambda t: _match(pattern, t)


def _match(p: str, t: str) -> bool:
    pi = ti = 0
    star = -1
    mark = 0
    np, nt = len(p), len(t)
    while ti < nt:
        if pi < np and p[pi] == "*":  # before the literal test: a ``*`` in the text is no match for it
            star = pi
            mark = ti
            pi += 1
        elif pi < np and (p[pi] == "?" or p[pi] == t[ti]):
            pi += 1
            ti += 1
        elif star != -1:
            pi = star + 1
            mark += 1
            ti = mark
        else:
            return False
    while pi < np and p[pi] == "*":
        pi += 1
    return pi == np


def match_any(patterns, text: str) -> bool:
    return any(match(p, text) for p in patterns)
