"""Kyverno's ``kyverno.math`` library: ``math.round(double, int precision)``, next to cel-go's
``math.round(double)``. Go's ``math.Round(v * 10^p) / 10^p``: half away from zero, a negative precision
rounds left of the point (``math.round(1234.5, -2) == 1200.0``)."""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from verno.core.cel.library import Library

__all__ = ["libraries", "round_precision"]


def _go_round(x: float) -> float:
    if not math.isfinite(x):
        return x
    return math.copysign(float(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP)), x)


def round_precision(value: float, precision: int) -> float:
    try:
        shift = math.pow(10.0, precision)
    except OverflowError:
        shift = math.inf
    return _go_round(value * shift) / shift


def libraries() -> list[Library]:
    lib = Library("kyverno.math")
    lib.fn("math.round", ["double", "int"], "double", round_precision, overload_id="kyverno.math_round_double_int")
    return [lib]
