from __future__ import annotations

import pytest

from verno.core.operators.gotypes import (
    deep_equal,
    format_float_e,
    format_float_g,
    go_sprint,
    go_type_name,
    json_string_list,
    parse_go_float,
    parse_go_int,
)
from verno.core.operators.valuepattern import compile_string_pattern, match_string_pattern, operator_of


@pytest.mark.parametrize(
    ("pattern", "op"),
    [(">=1", ">="), ("<=1", "<="), (">1", ">"), ("<1", "<"), ("!x", "!"), ("1-10", "-"), ("1!-10", "!-"),
     ("-5", ""), ("x", ""), ("1Gi-2Gi", "-"), ("a-b", ""), ("1.5-2.5", "-")],
)
def test_operator_of(pattern: str, op: str) -> None:
    assert operator_of(pattern) == op


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("nginx:1.2", "!*:latest", True),
        ("nginx:latest", "!*:latest", False),
        ("512Mi", "<=1Gi", True),
        ("2Gi", "<=1Gi", False),
        (5, "1-10", True),
        (11, "1-10", False),
        (11, "1!-10", True),
        (5, "1!-10", False),
        ("30s", ">10s", True),
        ("5s", ">10s", False),
        ("abc", "a*|b*", True),
        ("cbc", "a*|b*", False),
        ("abc", "a* & *c", True),
        ("abd", "a*&*c", False),
        ("x", "?*", True),
        ("", "?*", False),
        (None, "?*", False),
        (None, "<10", True),  # a missing value is "0" for quantities
        (None, ">0", False),
        (None, "*", False),
        (1.5, ">0.5", True),
        (True, "true", True),
        (False, "true", False),
        (3, "3", True),
        (2.0, "2E+00", True),  # Kyverno formats floats with %E for string comparison
        (2.0, "2", True),
        ("Always", "Always|IfNotPresent", True),
        ("Never", "Always | IfNotPresent", False),
        ({"a": 1}, "*", False),
        ("abc", ">abc", False),  # ordering operators do not apply to strings
        ("1.5", ">=1", True),
    ],
)
def test_match_string_pattern(value: object, pattern: str, expected: bool) -> None:
    assert match_string_pattern(value, pattern) is expected


def test_compiled_patterns_are_cached() -> None:
    assert compile_string_pattern("a|b&c") is compile_string_pattern("a|b&c")
    assert len(compile_string_pattern("a|b&c")) == 2


def test_go_formatting() -> None:
    assert format_float_e(1.5) == "1.5E+00"
    assert format_float_e(100.0) == "1E+02"
    assert format_float_e(0.0) == "0E+00"
    assert format_float_e(float("inf")) == "+Inf"
    assert format_float_g(3.0) == "3"
    assert format_float_g(1e21) == "1e+21"
    assert format_float_g(0.0001) == "0.0001"
    assert format_float_g(1e-5) == "1e-05"
    assert format_float_g(123.25) == "123.25"
    assert go_sprint(None) == "<nil>"
    assert go_sprint(True) == "true"
    assert go_sprint({"b": 1, "a": [1, "x"]}) == "map[a:[1 x] b:1]"
    assert go_type_name({}) == "map[string]interface {}"
    assert go_type_name([]) == "[]interface {}"
    assert go_type_name(1) == "int64"
    assert go_type_name(None) == "<nil>"


def test_go_parsing() -> None:
    assert parse_go_float("1e3") == 1000.0
    assert parse_go_float(".5") == 0.5
    for bad in ("1_000", " 1", "0x10", "", "abc"):
        with pytest.raises(ValueError):
            parse_go_float(bad)
    assert parse_go_int("-42") == -42
    with pytest.raises(ValueError):
        parse_go_int("1.0")
    with pytest.raises(ValueError):
        parse_go_int(str(1 << 63))


def test_json_and_deep_equal() -> None:
    assert json_string_list('["a","b"]') == ["a", "b"]
    assert json_string_list("null") == []
    assert json_string_list("[1]") is None
    assert json_string_list("NaN") is None
    assert deep_equal([1, {"a": None}], [1.0, {"a": None}])
    assert not deep_equal([True], [1])
    assert not deep_equal("a", None)
