"""Pieces the operator families share (K: ``operator.go`` ``parseDuration``)."""
from __future__ import annotations

from typing import Any

from verno.core.duration import seconds_to_ns, try_parse_duration
from verno.core.operators.gotypes import is_number


def duration_pair(key: Any, value: Any) -> tuple[int, int] | None:
    """K: ``parseDuration``: both sides in nanoseconds when at least one is a duration string.

    A duration string is a Go duration other than the literal ``"0"``; the other side may be another
    duration string or a number of seconds. Otherwise None.
    """
    kd = try_parse_duration(key) if isinstance(key, str) and key != "0" else None
    vd = try_parse_duration(value) if isinstance(value, str) and value != "0" else None
    if kd is None and vd is None:
        return None
    if kd is None:
        if not is_number(key):
            return None
        kd = seconds_to_ns(key)
    if vd is None:
        if not is_number(value):
            return None
        vd = seconds_to_ns(value)
    return kd, vd
