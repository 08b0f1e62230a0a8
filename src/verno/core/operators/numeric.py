"""``GreaterThan``, ``GreaterThanOrEquals``, ``LessThan``, ``LessThanOrEquals``.

K: ``pkg/engine/variables/operator/numeric.go``: numbers, numeric strings, durations (checked first,
a bare number on the other side counts as seconds), quantities (both sides strings) and semver.
Anything else is false.
"""
from __future__ import annotations

import operator as _op
from collections.abc import Callable
from typing import Any

from verno.core.operators.common import duration_pair
from verno.core.operators.gotypes import is_number, parse_go_float
from verno.core.operators.semver import compare_semver, try_parse_semver
from verno.core.quantity import try_parse_quantity

Compare = Callable[[Any, Any], bool]


def _number_key(key: float, value: Any, cmp: Compare) -> bool:
    if is_number(value):
        return cmp(key, value)
    if isinstance(value, str):
        pair = duration_pair(key, value)
        if pair is not None:
            return cmp(*pair)
        try:
            return cmp(key, parse_go_float(value))
        except ValueError:
            return False
    return False


def _string_key(key: str, value: Any, cmp: Compare) -> bool:
    pair = duration_pair(key, value)
    if pair is not None:
        return cmp(*pair)
    if isinstance(value, str):
        kq, vq = try_parse_quantity(key), try_parse_quantity(value)
        if kq is not None and vq is not None:
            return cmp(kq, vq)
    try:
        return _number_key(parse_go_float(key), value, cmp)
    except ValueError:
        pass
    kv = try_parse_semver(key)
    if kv is not None:
        vv = try_parse_semver(value)
        return vv is not None and cmp(compare_semver(kv, vv), 0)
    return False


def _make(cmp: Compare) -> Callable[[Any, Any], bool]:
    def evaluate(key: Any, value: Any) -> bool:
        if isinstance(key, bool):
            return False
        if is_number(key):
            return _number_key(key, value, cmp)
        if isinstance(key, str):
            return _string_key(key, value, cmp)
        return False

    return evaluate


greater_than = _make(_op.gt)
greater_than_or_equals = _make(_op.ge)
less_than = _make(_op.lt)
less_than_or_equals = _make(_op.le)
