"""Kyverno's string patterns (K: ``pkg/engine/pattern/pattern.go``, ``pkg/engine/operator``).

A string pattern is split on ``|`` (OR) then ``&`` (AND); each part may start with ``>=``, ``<=``, ``>``,
``<`` or ``!``, or be a range ``a-b`` / ``a!-b``. The operand is compared as a Go duration, else as a
Kubernetes quantity, else (``=`` and ``!`` only) as a wildcard string. A missing value (None) counts as
``"0"`` for durations and quantities.

Used by validate patterns and by the In-family condition operators (ranges). Parsed patterns are cached.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import re2

from verno.core import wildcard
from verno.core.duration import try_parse_duration
from verno.core.operators.gotypes import format_float_e, format_float_f
from verno.core.quantity import try_parse_quantity

EQUAL, NOT_EQUAL, MORE, LESS, MORE_EQUAL, LESS_EQUAL = "", "!", ">", "<", ">=", "<="
IN_RANGE, NOT_IN_RANGE = "-", "!-"

_ENDPOINT = r"([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)"
IN_RANGE_RE = re2.compile(rf"^{_ENDPOINT}-{_ENDPOINT}$")
NOT_IN_RANGE_RE = re2.compile(rf"^{_ENDPOINT}!-{_ENDPOINT}$")


def operator_of(pattern: str) -> str:
    """K: ``operator.GetOperatorFromStringPattern``."""
    if len(pattern) < 2:
        return EQUAL
    for op in (MORE_EQUAL, LESS_EQUAL, MORE, LESS, NOT_EQUAL):
        if pattern.startswith(op):
            return op
    if NOT_IN_RANGE_RE.match(pattern):
        return NOT_IN_RANGE
    if IN_RANGE_RE.match(pattern):
        return IN_RANGE
    return EQUAL


class _Cmp(NamedTuple):
    op: str
    operand: str
    duration: int | None
    quantity: Decimal | None


class _Range(NamedTuple):
    inside: bool  # a-b (True) or a!-b (False)
    low: _Cmp
    high: _Cmp


_Cond = _Cmp | _Range


def _cmp(op: str, operand: str) -> _Cmp:
    return _Cmp(op, operand, try_parse_duration(operand), try_parse_quantity(operand))


def _compile_condition(text: str) -> _Cond | None:
    op = operator_of(text)
    if op == IN_RANGE or op == NOT_IN_RANGE:
        m = (IN_RANGE_RE if op == IN_RANGE else NOT_IN_RANGE_RE).match(text)
        if m is None:  # pragma: no cover - operator_of already matched the same regex
            return None
        left, right = m.group(1), m.group(2)
        if op == IN_RANGE:
            return _Range(True, _compile_single(f">= {left}"), _compile_single(f"<= {right}"))
        return _Range(False, _compile_single(f"< {left}"), _compile_single(f"> {right}"))
    return _cmp(op, text[len(op):].strip())


def _compile_single(text: str) -> _Cmp:
    op = operator_of(text)
    return _cmp(op, text[len(op):].strip())


@lru_cache(maxsize=8192)
def compile_string_pattern(pattern: str) -> tuple[tuple[_Cond | None, ...], ...]:
    """``((cond AND cond ...) OR (...))``; parsed once per distinct pattern string."""
    return tuple(
        tuple(_compile_condition(part.strip(" ")) for part in alt.strip(" ").split("&"))
        for alt in pattern.split("|")
    )


def plain_operand(pattern: str) -> tuple[bool, str] | None:
    """(negated, operand) when ``pattern`` is one ``=``/``!`` wildcard operand, compared as a string
    because it is neither a duration nor a quantity (``?*``, ``!*:latest``); else None."""
    alternatives = compile_string_pattern(pattern)
    if len(alternatives) != 1 or len(alternatives[0]) != 1:
        return None
    cond = alternatives[0][0]
    if not isinstance(cond, _Cmp) or cond.duration is not None or cond.quantity is not None:
        return None
    if cond.op != EQUAL and cond.op != NOT_EQUAL:
        return None
    return cond.op == NOT_EQUAL, cond.operand


def _number_string(value: Any) -> str | None:
    """K: ``convertNumberToString`` (None -> "0"; bools and containers are not numbers)."""
    if value is None:
        return "0"
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_f(value)
    return None


def _ordered(result: int, op: str) -> bool:
    if op == EQUAL:
        return result == 0
    if op == NOT_EQUAL:
        return result != 0
    if op == MORE:
        return result > 0
    if op == LESS:
        return result < 0
    if op == MORE_EQUAL:
        return result >= 0
    return result <= 0  # LESS_EQUAL


def compared_text(value: Any) -> str | None:
    """How a resource value reads when compared with a string operand (None: it is not compared)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_e(value)
    return None


def _compare_string(value: Any, operand: str, op: str) -> bool:
    if op != EQUAL and op != NOT_EQUAL:
        return False  # ">, >=, <, <= are not applicable to strings"
    text = compared_text(value)
    if text is None:
        return False
    hit = wildcard.match(operand, text)
    return not hit if op == NOT_EQUAL else hit


def _check(value: Any, cond: _Cmp) -> bool:
    if cond.duration is not None:
        text = _number_string(value)
        if text is not None:
            d = try_parse_duration(text)
            if d is not None:
                return _ordered((d > cond.duration) - (d < cond.duration), cond.op)
    if cond.quantity is not None:
        text = _number_string(value)
        if text is not None:
            q = try_parse_quantity(text)
            if q is not None:
                return _ordered((q > cond.quantity) - (q < cond.quantity), cond.op)
    return _compare_string(value, cond.operand, cond.op)


def _check_condition(value: Any, cond: _Cond | None) -> bool:
    if cond is None:  # pragma: no cover
        return False
    if isinstance(cond, _Range):
        if cond.inside:
            return _check(value, cond.low) and _check(value, cond.high)
        return _check(value, cond.low) or _check(value, cond.high)
    return _check(value, cond)


def match_string_pattern(value: Any, pattern: str) -> bool:
    """Whether a resource value matches a Kyverno string pattern (K: ``validateStringPatterns``)."""
    if isinstance(value, str) and value == pattern:
        return True
    for alternative in compile_string_pattern(pattern):
        if all(_check_condition(value, cond) for cond in alternative):
            return True
    return False
