"""The deprecated ``Duration*`` operators (K: ``pkg/engine/variables/operator/duration.go``).

Both sides must be Go durations or numbers of seconds (a float is truncated to whole seconds);
``"0"`` is a valid duration here.
"""
from __future__ import annotations

import operator as _op
from collections.abc import Callable
from typing import Any

from verno.core.duration import seconds_to_ns, try_parse_duration
from verno.core.operators.gotypes import is_number


def _ns(x: Any) -> int | None:
    if is_number(x):
        return seconds_to_ns(x)
    if isinstance(x, str):
        return try_parse_duration(x)
    return None


def _make(cmp: Callable[[int, int], bool]) -> Callable[[Any, Any], bool]:
    def evaluate(key: Any, value: Any) -> bool:
        k = _ns(key)
        if k is None:
            return False
        v = _ns(value)
        return v is not None and cmp(k, v)

    return evaluate


duration_greater_than = _make(_op.gt)
duration_greater_than_or_equals = _make(_op.ge)
duration_less_than = _make(_op.lt)
duration_less_than_or_equals = _make(_op.le)
