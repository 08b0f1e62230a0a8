"""How Go (``fmt``, ``strconv``, ``reflect``) sees the JSON values Kyverno compares.

Python's ``bool`` is an ``int`` and ``1 == 1.0 == True``; Go keeps them apart. Everything here treats a
bool as a bool first.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import re2

_FLOAT_RE = re2.compile(
    r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
)
_INT_RE = re2.compile(r"^[+-]?\d+$")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_go_float(s: str) -> float:
    """``strconv.ParseFloat(s, 64)`` (decimal forms, inf, nan); ``ValueError`` otherwise."""
    if not _FLOAT_RE.match(s):
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": invalid syntax')
    return float(s)


def parse_go_int(s: str) -> int:
    """``strconv.ParseInt(s, 10, 64)``; ``ValueError`` on bad syntax or out of range."""
    if not _INT_RE.match(s):
        raise ValueError(f'strconv.ParseInt: parsing "{s}": invalid syntax')
    n = int(s)
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise ValueError(f'strconv.ParseInt: parsing "{s}": value out of range')
    return n


def _shortest_digits(v: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite non-zero |v| and its exponent (d.ddd x 10^exp)."""
    _, digits, exp = Decimal(repr(abs(v))).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    # value = 0.digits * 10^(len(digits)+exp); scientific exponent = len(digits)+exp-1
    return ds, len(digits) + int(exp) - 1


def format_float_e(v: float) -> str:
    """``strconv.FormatFloat(v, 'E', -1, 64)``: ``1.5E+00``, ``1E+02``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return ("-" if math.copysign(1, v) < 0 else "") + "0E+00"
    ds, exp = _shortest_digits(v)
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{'-' if v < 0 else ''}{mant}E{'+' if exp >= 0 else '-'}{abs(exp):02d}"


def format_float_g(v: float) -> str:
    """``fmt.Sprint(float64)`` (``%v``): shortest form, exponent when exp < -4 or exp >= 21."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    ds, exp = _shortest_digits(v)
    sign = "-" if v < 0 else ""
    if exp < -4 or exp >= 21:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{sign}{mant}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if exp >= len(ds) - 1:
        return sign + ds + "0" * (exp - len(ds) + 1)
    if exp >= 0:
        return sign + ds[: exp + 1] + "." + ds[exp + 1:]
    return sign + "0." + "0" * (-exp - 1) + ds


def format_float_f(v: float) -> str:
    """``fmt.Sprintf("%f", v)``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.6f}"


def go_sprint(v: Any) -> str:
    """``fmt.Sprint(v)`` for JSON values."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float_g(v)
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_sprint(k)}:{go_sprint(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_sprint(x) for x in v) + "]"
    return str(v)


def go_type_name(v: Any) -> str:
    """``fmt.Sprintf("%T", v)`` for JSON values as Kyverno holds them."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    return type(v).__name__


def deep_equal(a: Any, b: Any) -> bool:
    """``reflect.DeepEqual`` of two JSON values where every number is a float64."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) or is_number(b):
        return is_number(a) and is_number(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and deep_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        return all(deep_equal(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def json_string_list(s: str) -> list[str] | None:
    """``json.Unmarshal(s, &[]string{})``: the list, or None when it fails (``null`` gives [])."""
    try:
        data = json.loads(s, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if data is None:
        return []
    if isinstance(data, list) and all(isinstance(x, str) or x is None for x in data):
        return ["" if x is None else x for x in data]
    return None


def json_valid(s: str) -> bool:
    """``json.Valid``."""
    try:
        json.loads(s, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return False
    return True
