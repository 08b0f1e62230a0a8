"""``Equals`` / ``NotEquals`` (and the deprecated ``Equal`` / ``NotEqual``).

K: ``pkg/engine/variables/operator/equal.go``, ``notequal.go``. Every condition number is a float64 in
Kyverno (conditions are decoded with ``encoding/json``), so ints and floats compare numerically.
"""
from __future__ import annotations

from typing import Any

from verno.core import wildcard
from verno.core.operators.common import duration_pair
from verno.core.operators.gotypes import deep_equal, is_number, parse_go_float
from verno.core.quantity import try_parse_quantity


def _string_key(key: str, value: Any) -> bool:
    pair = duration_pair(key, value)
    if pair is not None:
        return pair[0] == pair[1]
    kq = try_parse_quantity(key)
    if kq is not None and isinstance(value, str):
        vq = try_parse_quantity(value)
        return vq is not None and kq == vq
    if isinstance(value, str):
        return wildcard.match(value, key)
    return False


def _number_key(key: float, value: Any) -> bool:
    if is_number(value):
        return key == value
    if isinstance(value, str):
        try:
            return parse_go_float(value) == key
        except ValueError:
            return False
    return False


def equals(key: Any, value: Any) -> bool:
    """Durations first, then quantities, then a wildcard match where ``value`` is the pattern."""
    if isinstance(key, bool):
        return isinstance(value, bool) and key == value
    if is_number(key):
        return _number_key(key, value)
    if isinstance(key, str):
        return _string_key(key, value)
    if isinstance(key, dict):
        return isinstance(value, dict) and deep_equal(key, value)
    if isinstance(key, list):
        return isinstance(value, list) and deep_equal(key, value)
    return False


def not_equals(key: Any, value: Any) -> bool:
    return not equals(key, value)
