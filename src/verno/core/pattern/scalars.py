"""A resource value against a scalar (or map) pattern value (K: ``pkg/engine/pattern.Validate``).

Pattern numbers are float64 in Kyverno (policies are decoded with ``encoding/json``); resource numbers
keep Kubernetes' int64/float64 split.
"""
from __future__ import annotations

import math
from typing import Any

from verno.core.operators.gotypes import is_number, parse_go_float
from verno.core.operators.valuepattern import match_string_pattern


def _number_pattern(value: Any, pattern: float) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):  # an infinite (.inf) or NaN pattern equals no integer
        return math.isfinite(pattern) and pattern == int(pattern) and int(pattern) == value
    if isinstance(value, float):
        return value == pattern
    if isinstance(value, str):
        try:
            return parse_go_float(value) == pattern
        except ValueError:
            return False
    return False


def _nil_pattern(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if is_number(value):
        return value == 0
    if isinstance(value, str):
        return value == ""
    return False


def validate_scalar(value: Any, pattern: Any) -> bool:
    """Whether ``value`` satisfies a non-list pattern value."""
    if isinstance(pattern, str):
        return match_string_pattern(value, pattern)
    if isinstance(pattern, bool):
        return isinstance(value, bool) and value == pattern
    if is_number(pattern):
        return _number_pattern(value, float(pattern))
    if pattern is None:
        return _nil_pattern(value)
    if isinstance(pattern, dict):
        return isinstance(value, dict)
    return False  # arrays are not supported as scalar patterns
