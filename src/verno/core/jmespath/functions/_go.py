"""Go standard-library behaviours the Kyverno functions rely on.

Kyverno is written in Go; its functions lean on ``time.ParseDuration``/``Duration.String``,
``resource.Quantity`` canonical formatting, ``encoding/json`` and ``strconv``. These helpers reproduce
exactly what those produce so results compare equal to Kyverno's.
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from typing import Any

from verno.core.duration import format_duration, parse_duration  # noqa: F401  (Go durations, re-exported)
from verno.core.errors import JMESPathError
from verno.core.k8s_quantity import parse_quantity

# ---------------------------------------------------------------------------------------------------------
# errors (K: pkg/engine/jmespath/error.go)
# ---------------------------------------------------------------------------------------------------------


def fn_error(function: str, message: str) -> JMESPathError:
    return JMESPathError(f"JMESPath function '{function}': {message}")


def arg_type_error(function: str, position: int, expected: str) -> JMESPathError:
    return fn_error(function, f"argument #{position} is not of type {expected}")


# ---------------------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def tidy_number(value: float) -> float | int:
    """Go keeps every number as float64; integral results are given back as ``int`` here."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def format_float32(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 32)``: the shortest decimal that round-trips a float32."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    f32 = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 18):
        text = f"{f32:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    out = format(Decimal(text), "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out


def iface_to_string(value: Any) -> str | None:
    """Kyverno's ``ifaceToString``: strings, numbers (float32 precision) and booleans; else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_float32(value)
    return None


def format_go_float(value: float) -> str:
    """``encoding/json`` formatting of a float64 (``'f'`` in [1e-6, 1e21), else ``'e'``)."""
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    a = abs(value)
    if 1e-6 <= a < 1e21:
        return format(Decimal(repr(value)), "f")
    text = repr(value)  # shortest, e.g. 1e+21 / 1e-07
    mant, _, exp = text.partition("e")
    sign = "-" if exp.startswith("-") else "+"
    digits = exp.lstrip("+-").lstrip("0") or "0"
    if len(digits) < 2:
        digits = "0" + digits
    return f"{mant}e{sign}{digits}"


# ---------------------------------------------------------------------------------------------------------
# JSON (Go json.Marshal: compact, sorted map keys, HTML-escaped)
# ---------------------------------------------------------------------------------------------------------

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")


def _go_string(s: str) -> str:
    out = json.dumps(s, ensure_ascii=False)
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], out)


def go_json(value: Any) -> str:
    """``json.Marshal(value)`` as Go renders it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_go_float(value)
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_go_string(k)}:{go_json(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return _go_string(str(value))


def truncate_ns(value: float) -> int:
    """``time.Duration(f)``: conversion of a float64 number of nanoseconds (toward zero)."""
    if math.isnan(value) or math.isinf(value) or abs(value) >= 2**63:
        return -(2**63)
    return int(value)


# ---------------------------------------------------------------------------------------------------------
# quantities (k8s.io/apimachinery resource.Quantity)
# ---------------------------------------------------------------------------------------------------------

BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"

_QUANTITY_RE = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE]?)$")
_BIN = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_SUFFIX = {v: k for k, v in _DEC.items()}
_BIN_SUFFIX = {v: k for k, v in _BIN.items()}
_NANO = Decimal("1e-9")


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    format: str
    scale: int  # inf.Dec scale of the value as Go stores it (digits after the point)

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)


def parse_go_quantity(text: str) -> Quantity | None:
    """``resource.ParseQuantity``, or None when ``text`` is not a quantity."""
    m = _QUANTITY_RE.match(text)
    if not m:
        return None
    _sign, num, denom, suffix = m.groups()
    denom = denom or ""
    if not num and not denom:
        return None
    try:
        value = Decimal(parse_quantity(text))
    except (ValueError, TypeError, InvalidOperation):
        return None
    if suffix in _BIN:
        fmt = BINARY_SI
        scale = 0 if not denom else 9
    elif suffix[:1] in ("e", "E"):
        fmt = DECIMAL_EXPONENT
        scale = len(denom) - int(suffix[1:])
    else:
        fmt = DECIMAL_SI
        scale = len(denom) - _DEC[suffix]
    if isinstance(value.as_tuple().exponent, int) and value.as_tuple().exponent < -9:
        value = value.quantize(_NANO, rounding=ROUND_UP)
        scale = 9
    return Quantity(value, fmt, scale)


def _decimal_mantissa(value: Decimal) -> tuple[int, int]:
    """value = mantissa * 10**exponent with the exponent a multiple of 3 and the mantissa an integer."""
    sign, digits, exp = value.normalize().as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    exponent = int(exp)
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    return (-mantissa if sign else mantissa), exponent


def format_quantity(value: Decimal, fmt: str) -> str:
    """``Quantity.String()``: the canonical form (``1536Mi``, ``1500``, ``2k``, ``500m``)."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < value < 1024 or value != value.to_integral_value():
            fmt = DECIMAL_SI
        else:
            amount = int(value)
            exponent = 0
            while amount % 1024 == 0 and exponent < 6:
                amount //= 1024
                exponent += 1
            return f"{amount}{_BIN_SUFFIX.get(exponent, '')}"
    mantissa, exponent = _decimal_mantissa(value)
    if fmt == DECIMAL_SI and exponent in _DEC_SUFFIX:
        return f"{mantissa}{_DEC_SUFFIX[exponent]}"
    return f"{mantissa}" if exponent == 0 else f"{mantissa}e{exponent}"


def quotient_round_down(dividend: Decimal, divisor: Decimal, scale: int) -> Decimal:
    """``inf.Dec.QuoRound(x, y, scale, RoundDown)``."""
    exact = dividend / divisor
    return exact.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_DOWN)


# ---------------------------------------------------------------------------------------------------------
# paths (path/filepath.Clean on Unix)
# ---------------------------------------------------------------------------------------------------------


def clean_path(path: str) -> str:
    """Go's ``filepath.Clean`` for slash-separated paths."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    joined = "/".join(out)
    if rooted:
        return "/" + joined
    return joined or "."
