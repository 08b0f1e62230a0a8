"""Arithmetic over numbers, Kubernetes quantities and Go durations (K: pkg/engine/jmespath/arithmetic.go).

An operand is a number (scalar), else a string that parses as a quantity, else as a duration.
Results: quantities and durations are rendered back as strings the way Go does.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from verno.core.jmespath.functions._go import (
    Quantity,
    fn_error,
    format_duration,
    format_quantity,
    is_number,
    parse_duration,
    parse_go_quantity,
    quotient_round_down,
    tidy_number,
    truncate_ns,
)
from verno.core.jmespath.functions._spec import ANY, A, N, Spec


class Duration(int):
    """Nanoseconds."""


Operand = float | int | Quantity | Duration


def _operand(value: Any) -> Operand | None:
    if is_number(value):
        return value
    if isinstance(value, str):
        q = parse_go_quantity(value)
        if q is not None:
            return q
        try:
            return Duration(parse_duration(value))
        except ValueError:
            return None
    return None


def _operands(a: Any, b: Any, operator: str) -> tuple[Operand, Operand]:
    x, y = _operand(a), _operand(b)
    if x is None or y is None:
        raise fn_error(operator, "invalid operands")
    return x, y


def _mismatch(operator: str) -> Exception:
    return fn_error(operator, "Types mismatch")


def _zero(operator: str) -> Exception:
    return fn_error(operator, "Zero divisor passed")


def _scalar_as_quantity(value: float) -> Quantity:
    q = parse_go_quantity(str(tidy_number(value)) if isinstance(value, float) else str(value))
    if q is None:  # exponent notation such as 1e+21
        q = Quantity(Decimal(repr(value)), "DecimalSI", 0)
    return q


def _add(x: Operand, y: Operand, operator: str) -> Any:
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        return format_quantity(x.value + y.value, x.format)
    if isinstance(x, Duration) and isinstance(y, Duration):
        return format_duration(x + y)
    if is_number(x) and is_number(y) and not isinstance(x, Duration) and not isinstance(y, Duration):
        return tidy_number(x + y)
    raise _mismatch(operator)


def add(a: Any, b: Any) -> Any:
    return _add(*_operands(a, b, "add"), "add")


def sum_(values: list[Any]) -> Any:
    """Kyverno's ``sum``: numbers, quantities or durations (all of one kind)."""
    if not values:
        raise fn_error("sum", "at least one element in the array is required")
    result = values[0]
    for item in values[1:]:
        result = _add(*_operands(result, item, "sum"), "sum")
    return result


def subtract(a: Any, b: Any) -> Any:
    x, y = _operands(a, b, "subtract")
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        return format_quantity(x.value - y.value, x.format)
    if isinstance(x, Duration) and isinstance(y, Duration):
        return format_duration(x - y)
    if _is_scalar(x) and _is_scalar(y):
        return tidy_number(x - y)
    raise _mismatch("subtract")


def _is_scalar(x: Operand) -> bool:
    return is_number(x) and not isinstance(x, Duration)


def multiply(a: Any, b: Any) -> Any:
    x, y = _operands(a, b, "multiply")
    if _is_scalar(x) and not _is_scalar(y):
        x, y = y, x
    if isinstance(x, Quantity) and _is_scalar(y):
        return format_quantity(x.value * _scalar_as_quantity(y).value, x.format)
    if isinstance(x, Duration) and _is_scalar(y):
        seconds = (int(x) / 1e9) * y
        return format_duration(truncate_ns(seconds * 1e9))
    if _is_scalar(x) and _is_scalar(y):
        return tidy_number(x * y)
    raise _mismatch("multiply")


def divide(a: Any, b: Any) -> Any:
    x, y = _operands(a, b, "divide")
    if isinstance(x, Quantity):
        if isinstance(y, Quantity):
            if y.value == 0:
                raise _zero("divide")
            return tidy_number(float(x.value) / float(y.value))
        if _is_scalar(y):
            if y == 0:
                raise _zero("divide")
            divisor = _scalar_as_quantity(y)
            quotient = quotient_round_down(x.value, divisor.value, max(x.scale, divisor.scale))
            return format_quantity(quotient, x.format)
        raise _mismatch("divide")
    if isinstance(x, Duration):
        if isinstance(y, Duration):
            if y == 0:
                raise _zero("divide")
            return tidy_number((int(x) / 1e9) / (int(y) / 1e9))
        if _is_scalar(y):
            if y == 0:
                raise _zero("divide")
            return format_duration(truncate_ns((int(x) / 1e9) / y * 1e9))
        raise _mismatch("divide")
    if _is_scalar(y):
        if y == 0:
            raise _zero("divide")
        return tidy_number(x / y)
    raise _mismatch("divide")


def _go_mod(a: int, b: int) -> int:
    """Go's ``%``: the result has the sign of the dividend."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def modulo(a: Any, b: Any) -> Any:
    x, y = _operands(a, b, "modulo")
    non_int = fn_error("modulo", "Non-integer argument(s) passed for modulo")
    if isinstance(x, Quantity):
        if not isinstance(y, Quantity):
            raise _mismatch("modulo")
        if x.value != int(x.value) or y.value != int(y.value):
            raise non_int
        if int(y.value) == 0:
            raise _zero("modulo")
        return format_quantity(Decimal(_go_mod(int(x.value), int(y.value))), x.format)
    if isinstance(x, Duration):
        if not isinstance(y, Duration):
            raise _mismatch("modulo")
        if y == 0:
            raise _zero("modulo")
        return format_duration(_go_mod(int(x), int(y)))
    if not _is_scalar(y):
        raise _mismatch("modulo")
    if float(x) != int(x) or float(y) != int(y):
        raise non_int
    if int(y) == 0:
        raise _zero("modulo")
    return _go_mod(int(x), int(y))


def round_(value: float, places: float) -> float | int:
    """Round half away from zero to ``places`` decimals."""
    if float(places) != int(places):
        raise fn_error("round", "Non-integer argument(s) passed for round off")
    digits = int(places)
    if digits < 0:
        raise fn_error("round", "%!d(MISSING) argument is out of bounds (%!d(MISSING))")
    shift = math.pow(10, digits)
    scaled = value * shift
    rounded = float(Decimal(scaled).to_integral_value(rounding=ROUND_HALF_UP)) if math.isfinite(scaled) else scaled
    return tidy_number(rounded / shift)


FUNCTIONS = [
    Spec("add", add, [ANY, ANY], "any",
         "does arithmetic addition of two specified values of numbers, quantities, and durations"),
    Spec("sum", sum_, [A], "any",
         "does arithmetic addition of specified array of values of numbers, quantities, and durations"),
    Spec("subtract", subtract, [ANY, ANY], "any",
         "does arithmetic subtraction of two specified values of numbers, quantities, and durations"),
    Spec("multiply", multiply, [ANY, ANY], "any",
         "does arithmetic multiplication of two specified values of numbers, quantities, and durations"),
    Spec("divide", divide, [ANY, ANY], "any", "divisor must be non zero"),
    Spec("modulo", modulo, [ANY, ANY], "any", "divisor must be non-zero, arguments must be integers"),
    Spec("round", round_, [N, N], "number", "does roundoff to upto the given decimal places"),
]
