from __future__ import annotations

import pytest

from verno.core.operators.equality import equals, not_equals


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        # durations first: "1h" == "60m", and a number on the other side is seconds
        ("1h", "60m", True),
        ("1h", "61m", False),
        ("1h", 3600, True),
        (60, "1m", False),  # a number key never looks at durations
        ("1h", "abc", False),
        # quantities
        ("1Gi", "1024Mi", True),
        ("1024", "1Ki", True),
        ("100m", "0.1", True),
        ("1Gi", "1Gb", False),  # value not a quantity: false, no wildcard fallback
        ("1", 1, False),  # quantity key against a non-string value
        # wildcards: the value is the pattern
        ("nginx:1.2", "nginx:*", True),
        ("nginx:*", "nginx:1.2", False),
        ("kube-system", "kube-?ystem", True),
        ("abc", "abc", True),
        ("", "", True),
        ("", "*", True),
        ("abc", None, False),
        # numbers
        (1, 1, True),
        (1, 1.0, True),
        (1.5, 1, False),
        (2.0, "2", True),
        (3, "3.0", True),
        (3, "x", False),
        (3, True, False),
        # bools
        (True, True, True),
        (True, "true", False),
        (False, 0, False),
        ("true", True, False),
        # maps and lists deep-equal, numbers compared as numbers, bools never equal numbers
        ({"a": [1, 2]}, {"a": [1.0, 2]}, True),
        ({"a": 1}, {"a": True}, False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        (["a", "b"], ["a", "b"], True),
        (["a", "b"], ["b", "a"], False),
        (["a"], "a", False),
        ({"a": 1}, "x", False),
        (None, None, False),  # unsupported key type
    ],
)
def test_equals(key: object, value: object, expected: bool) -> None:
    assert equals(key, value) is expected
    assert not_equals(key, value) is (not expected)


def test_zero_is_not_a_duration_trigger() -> None:
    # "0" is excluded from the duration check, so it compares as a quantity
    assert equals("0", "0s") is False  # "0s" is a duration but "0" as key is a string: no number
    assert equals("0", "0") is True
    assert equals("0s", 0) is True
