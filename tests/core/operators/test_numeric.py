from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verno.core.operators.numeric import (
    greater_than,
    greater_than_or_equals,
    less_than,
    less_than_or_equals,
)
from verno.core.operators.semver import compare_semver, parse_semver, try_parse_semver


@pytest.mark.parametrize(
    ("key", "value", "gt", "ge", "lt", "le"),
    [
        (5, 3, True, True, False, False),
        (3, 3, False, True, False, True),
        (2.5, 3, False, False, True, True),
        ("5", 3, True, True, False, False),
        (5, "3", True, True, False, False),
        ("10", "9", True, True, False, False),
        ("1Gi", "512Mi", True, True, False, False),
        ("500m", "1", False, False, True, True),
        ("2h", "90m", True, True, False, False),
        ("1h", 3600, False, True, False, True),
        (7200, "1h", True, True, False, False),
        ("1.10.0", "1.9.3", True, True, False, False),
        ("1.0.0-alpha", "1.0.0", False, False, True, True),
        ("1.2.3", "1.2.3", False, True, False, True),
    ],
)
def test_comparisons(key: object, value: object, gt: bool, ge: bool, lt: bool, le: bool) -> None:
    assert greater_than(key, value) is gt
    assert greater_than_or_equals(key, value) is ge
    assert less_than(key, value) is lt
    assert less_than_or_equals(key, value) is le


@pytest.mark.parametrize(
    ("key", "value"),
    [("abc", 1), (True, 1), (1, True), (None, 1), ([1], 1), (1, None), ("1.2.3", 1), ("1.2.3", "x"), ("1", "x")],
)
def test_invalid_operands_are_false(key: object, value: object) -> None:
    for op in (greater_than, greater_than_or_equals, less_than, less_than_or_equals):
        assert op(key, value) is False


@given(st.integers(-(10**9), 10**9), st.integers(-(10**9), 10**9))
def test_numbers_and_numeric_strings_agree(a: int, b: int) -> None:
    assert greater_than(a, b) is (a > b)
    assert greater_than(str(a), str(b)) is (a > b)
    assert less_than_or_equals(str(a), b) is (a <= b)


def test_semver_parse_and_compare() -> None:
    assert parse_semver("1.2.3-rc.1+build.5").pre == ("rc", 1)
    for bad in ("v1.2.3", "1.2", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", ""):
        assert try_parse_semver(bad) is None
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0", "2.0.0"]
    parsed = [parse_semver(v) for v in order]
    for a, b in itertools.pairwise(parsed):
        assert compare_semver(a, b) == -1
        assert compare_semver(b, a) == 1
    assert compare_semver(parse_semver("1.0.0+a"), parse_semver("1.0.0+b")) == 0
    assert try_parse_semver(1) is None
