from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verno.core.duration import (
    HOUR,
    MILLISECOND,
    MINUTE,
    SECOND,
    duration_seconds,
    format_duration,
    parse_duration,
    seconds_to_ns,
    try_parse_duration,
)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1h30m", 90 * MINUTE),
        ("1.5h", 90 * MINUTE),
        ("300ms", 300 * MILLISECOND),
        ("-1m", -MINUTE),
        ("+5s", 5 * SECOND),
        ("0", 0),
        ("-0", 0),
        ("0s", 0),
        (".5s", SECOND // 2),
        ("1.s", SECOND),
        ("1h2m3.5s", HOUR + 2 * MINUTE + 3 * SECOND + SECOND // 2),
        ("1us", 1000),
        ("1\u00b5s", 1000),
        ("1\u03bcs", 1000),
        ("7ns", 7),
        ("2h45m", 2 * HOUR + 45 * MINUTE),
        ("1.0000000001s", SECOND),
    ],
)
def test_parse(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "1", "s", ".s", "1x", "1hh", "-", "1h 2m", "9999999999h", "1.2.3s"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
    assert try_parse_duration(text) is None


def test_try_parse_non_string() -> None:
    assert try_parse_duration(5) is None
    assert try_parse_duration(None) is None


def test_seconds() -> None:
    assert duration_seconds("1m30s") == Decimal(90)
    assert duration_seconds("1500ms") == Decimal("1.5")
    assert seconds_to_ns(1.9) == SECOND  # Go truncates the float before multiplying
    assert seconds_to_ns(-2) == -2 * SECOND


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (90 * MINUTE, "1h30m0s"),
        (5 * SECOND, "5s"),
        (1500 * MILLISECOND, "1.5s"),
        (300 * MILLISECOND, "300ms"),
        (1500, "1.5\u00b5s"),
        (7, "7ns"),
        (-MINUTE, "-1m0s"),
        (2 * MINUTE + 3500 * MILLISECOND, "2m3.5s"),
        (25 * HOUR, "25h0m0s"),
    ],
)
def test_format(ns: int, text: str) -> None:
    assert format_duration(ns) == text


@given(st.integers(min_value=-(1 << 62), max_value=1 << 62))
def test_format_round_trips(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns
