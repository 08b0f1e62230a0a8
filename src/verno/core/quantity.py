"""Kubernetes resource quantities (``resource.ParseQuantity``) as exact Decimals.

The grammar is checked the way apimachinery's ``parseQuantityString`` does (so ``"1.5Gi"``, ``"100m"``,
``"1e3"``, ``".5"`` and even ``"Mi"`` parse, while ``"1.2.3"``, ``"abc"`` and ``""`` do not); the value
itself is computed with :func:`kubernetes.utils.parse_quantity`. Like Go, amounts finer than one nano
are rounded up (away from zero) to the next nano.
"""
from __future__ import annotations

from decimal import ROUND_UP, Decimal, localcontext
from functools import lru_cache

from verno.core.k8s_quantity import parse_quantity as _k8s_parse_quantity

_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_SUFFIXES = frozenset(["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"])
_NANO = Decimal("1e-9")


def _split(text: str) -> tuple[str, str, str, str]:
    """(sign, numerator, denominator, suffix) following Go's parseQuantityString."""
    pos, end = 0, len(text)
    sign = ""
    if text[0] in "+-":
        sign = "-" if text[0] == "-" else ""
        pos = 1
    start = pos
    while pos < end and "0" <= text[pos] <= "9":
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and "0" <= text[pos] <= "9":
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and "0" <= text[pos] <= "9":
        pos += 1
    if pos < end:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    return sign, num, denom, text[suffix_start:]


def _valid_suffix(suffix: str) -> bool:
    if suffix in _SUFFIXES:
        return True
    if len(suffix) > 1 and suffix[0] in "eE":
        rest = suffix[1:]
        if rest[0] in "+-":
            rest = rest[1:]
        return rest.isdigit() and rest.isascii()
    return False


@lru_cache(maxsize=4096)
def parse_quantity(text: str) -> Decimal:
    """The Decimal value of a Kubernetes quantity string; ``ValueError`` when Go would reject it."""
    if not isinstance(text, str) or not text:
        raise ValueError("quantities must match the regular expression")
    if text == "0":
        return Decimal(0)
    sign, num, denom, suffix = _split(text)
    if not _valid_suffix(suffix):
        raise ValueError(f"unable to parse quantity's suffix: {text!r}")
    canonical = f"{sign}{num}.{denom or '0'}{suffix}"
    with localcontext() as ctx:
        ctx.prec = 200
        value = _k8s_parse_quantity(canonical)
        if value != 0 and value.as_tuple().exponent < -9:  # type: ignore[operator]
            value = value.quantize(_NANO, rounding=ROUND_UP)
    return value


def try_parse_quantity(text: object) -> Decimal | None:
    """The quantity's value, or None when ``text`` is not a string Go parses as a quantity."""
    if not isinstance(text, str):
        return None
    return _try_quantity(text)


@lru_cache(maxsize=8192)
def _try_quantity(text: str) -> Decimal | None:
    # failures are cached too: patterns try every string as a duration, then a quantity
    try:
        return parse_quantity(text)
    except (ValueError, ArithmeticError):
        return None


def compare_quantities(a: Decimal, b: Decimal) -> int:
    """Go's ``Quantity.Cmp``: -1, 0 or 1."""
    return (a > b) - (a < b)
