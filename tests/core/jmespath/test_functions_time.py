from __future__ import annotations

import re

import pytest

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath
from verno.core.jmespath.functions._go import format_duration, parse_duration


@pytest.mark.parametrize("expr, expected", [
    ("time_since('', '2021-01-02T15:04:05Z', '2021-01-02T16:04:05Z')", "1h0m0s"),
    ("time_since('', '2021-01-01T00:00:00Z', '2021-01-01T01:30:00Z')", "1h30m0s"),
    ("time_since('2006-01-02', '2021-01-01', '2021-01-02')", "24h0m0s"),
    ("time_since('', '2021-01-02T00:00:01Z', '2021-01-02T00:00:00Z')", "-1s"),
    ("time_add('2021-01-02T15:04:05Z', '3h')", "2021-01-02T18:04:05Z"),
    ("time_add('2021-01-02T15:04:05-05:00', '-30m')", "2021-01-02T14:34:05-05:00"),
    ("time_parse('2006-01-02T15:04:05Z07:00', '2021-01-02T15:04:05-07:00')", "2021-01-02T15:04:05-07:00"),
    ("time_parse('Mon Jan 02 2006 15:04:05 -0700', 'Fri Jun 22 2022 17:19:23 +0000')", "2022-06-22T17:19:23Z"),
    ("time_parse('2006-01-02', '2021-11-20')", "2021-11-20T00:00:00Z"),
    ("time_parse('Jan _2, 2006 3:04pm', 'Feb  3, 2013 7:54pm')", "2013-02-03T19:54:00Z"),
    ("time_parse('1136239445', '1666030994')", "2022-10-17T18:23:14Z"),
    ("time_to_cron('2022-02-08T17:19:23Z')", "19 17 8 2 2"),
    ("time_utc('2021-01-02T18:04:05+05:30')", "2021-01-02T12:34:05Z"),
    ("time_diff('2021-01-02T15:04:05Z', '2021-01-02T16:34:05Z')", "1h30m0s"),
    ("time_diff('2021-01-02T15:04:05.5Z', '2021-01-02T15:04:06Z')", "500ms"),
    ("time_before('2021-01-02T15:04:05Z', '2021-01-02T15:04:06Z')", True),
    ("time_after('2021-01-02T15:04:05Z', '2021-01-02T15:04:06Z')", False),
    ("time_between('2021-01-02T15:04:05Z', '2021-01-01T00:00:00Z', '2021-01-03T00:00:00Z')", True),
    ("time_between('2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z', '2021-01-03T00:00:00Z')", False),
    ("time_truncate('2023-02-08T17:19:23Z', '1h')", "2023-02-08T17:00:00Z"),
    ("time_truncate('2023-02-08T17:19:23Z', '24h')", "2023-02-08T00:00:00Z"),
])
def test_time_functions(jp: JMESPath, expr: str, expected: object) -> None:
    assert jp.search(expr, {}) == expected


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def test_now(jp: JMESPath) -> None:
    assert RFC3339.match(jp.search("time_now()", {}))
    assert jp.search("time_now_utc()", {}).endswith("Z")
    assert jp.search("time_before('2000-01-01T00:00:00Z', time_now_utc())", {}) is True
    since = jp.search("time_since('', '2000-01-01T00:00:00Z', '')", {})
    assert since.endswith("s") and "h" in since


@pytest.mark.parametrize("expr", [
    "time_add('2021-01-02', '3h')",
    "time_add('2021-01-02T15:04:05Z', '3 hours')",
    "time_parse('2006-01-02', '2021-13-01')",
    "time_utc('yesterday')",
])
def test_time_errors(jp: JMESPath, expr: str) -> None:
    with pytest.raises(JMESPathError):
        jp.search(expr, {})


@pytest.mark.parametrize("text, ns, rendered", [
    ("1h", 3_600_000_000_000, "1h0m0s"),
    ("1h30m", 5_400_000_000_000, "1h30m0s"),
    ("1.5s", 1_500_000_000, "1.5s"),
    ("500ms", 500_000_000, "500ms"),
    ("1us", 1_000, "1µs"),
    ("1.5µs", 1_500, "1.5µs"),
    ("3ns", 3, "3ns"),
    ("0", 0, "0s"),
    ("-2m3s", -123_000_000_000, "-2m3s"),
    ("90m", 5_400_000_000_000, "1h30m0s"),
])
def test_go_durations(text: str, ns: int, rendered: str) -> None:
    assert parse_duration(text) == ns
    assert format_duration(ns) == rendered


@pytest.mark.parametrize("text", ["", "1", "h", "1x", ".s", "1h-3m"])
def test_go_duration_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
