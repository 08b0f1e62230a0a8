"""Memoizing work on policy-owned objects (patterns, rule documents) by identity.

Policies are immutable once prepared, so what is derived from one of their dicts or lists (its anchor
layout, whether it holds variables) can be computed once and found again by the object's identity. The
object is kept alive by the memo, so its id cannot be reused while the entry exists.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

R = TypeVar("R")


class IdentityMemo(Generic[R]):
    __slots__ = ("_compute", "_entries", "_maxsize")

    def __init__(self, compute: Callable[[Any], R], maxsize: int = 8192):
        self._compute = compute
        self._entries: dict[int, tuple[Any, R]] = {}
        self._maxsize = maxsize

    def __call__(self, obj: Any) -> R:
        hit = self._entries.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        result = self._compute(obj)
        if len(self._entries) >= self._maxsize:
            self._entries.clear()
        self._entries[id(obj)] = (obj, result)
        return result
