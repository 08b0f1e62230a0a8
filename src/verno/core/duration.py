"""Go ``time.Duration`` parsing and formatting.

``parse_duration`` follows ``time.ParseDuration`` exactly (grammar ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``,
units ``ns us µs μs ms s m h``, the special string ``"0"``, overflow past ±2^63 ns) and returns integer
nanoseconds. ``format_duration`` is ``Duration.String()`` (``1h30m0s``, ``1.5s``, ``300ms``, ``0s``).
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS: dict[str, int] = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # µ micro sign
    "\u03bcs": MICROSECOND,  # μ greek mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_MAX = 1 << 63


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> int:
    """Nanoseconds of a Go duration string; ``ValueError`` when Go's ``time.ParseDuration`` fails."""
    if not isinstance(text, str):
        raise ValueError(f"time: invalid duration {text!r}")  # noqa: TRY004 - callers catch ValueError
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0
    while s:
        if not (s[0] == "." or _digit(s[0])):
            raise ValueError(f'time: invalid duration "{orig}"')
        i = 0
        v = 0
        while i < len(s) and _digit(s[i]):
            v = v * 10 + ord(s[i]) - 48
            if v > _MAX:
                raise ValueError(f'time: invalid duration "{orig}"')
            i += 1
        pre = i > 0
        s = s[i:]
        post = False
        f = 0
        scale = 1.0
        if s and s[0] == ".":
            s = s[1:]
            i = 0
            overflow = False
            while i < len(s) and _digit(s[i]):
                if not overflow:
                    if f > (_MAX - 1) // 10:
                        overflow = True
                    else:
                        nf = f * 10 + ord(s[i]) - 48
                        if nf > _MAX:
                            overflow = True
                        else:
                            f = nf
                            scale *= 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise ValueError(f'time: invalid duration "{orig}"')
        i = 0
        while i < len(s) and not (s[i] == "." or _digit(s[i])):
            i += 1
        if i == 0:
            raise ValueError(f'time: missing unit in duration "{orig}"')
        unit_name, s = s[:i], s[i:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f'time: unknown unit "{unit_name}" in duration "{orig}"')
        if v > _MAX // unit:
            raise ValueError(f'time: invalid duration "{orig}"')
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > _MAX:
                raise ValueError(f'time: invalid duration "{orig}"')
        total += v
        if total > _MAX:
            raise ValueError(f'time: invalid duration "{orig}"')
    if neg:
        return -total
    if total > _MAX - 1:
        raise ValueError(f'time: invalid duration "{orig}"')
    return total


def try_parse_duration(text: object) -> int | None:
    """Nanoseconds, or None when ``text`` is not a string Go can parse as a duration."""
    if not isinstance(text, str):
        return None
    return _try_duration(text)


@lru_cache(maxsize=8192)
def _try_duration(text: str) -> int | None:
    # failures are cached too: most strings a pattern meets are not durations
    try:
        return parse_duration(text)
    except ValueError:
        return None


def duration_seconds(text: str) -> Decimal:
    """Seconds of a Go duration string as an exact Decimal (``"1m30s"`` -> ``Decimal("90")``)."""
    return Decimal(parse_duration(text)) / Decimal(SECOND)


def seconds_to_ns(number: float) -> int:
    """Go's ``time.Duration(n) * time.Second``: a float is truncated toward zero first."""
    return int(number) * SECOND


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    digits = []
    printed = False
    for _ in range(prec):
        digit = v % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        v //= 10
    if printed:
        return "." + "".join(reversed(digits)), v
    return "", v


def format_duration(ns: int) -> str:
    """Go's ``Duration.String()``: ``1h30m0s``, ``2m3.5s``, ``1.5ms``, ``0s``."""
    neg = ns < 0
    u = -ns if neg else ns
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < MICROSECOND:
            prec, unit = 0, "ns"
        elif u < MILLISECOND:
            prec, unit = 3, "\u00b5s"
        else:
            prec, unit = 6, "ms"
        frac, u = _fmt_frac(u, prec)
        out = f"{u}{frac}{unit}"
    else:
        frac, u = _fmt_frac(u, 9)
        out = f"{u % 60}{frac}s"
        u //= 60
        if u > 0:
            out = f"{u % 60}m" + out
            u //= 60
            if u > 0:
                out = f"{u}h" + out
    return "-" + out if neg else out
