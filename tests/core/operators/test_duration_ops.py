from __future__ import annotations

import pytest

from verno.core.operators.duration_ops import (
    duration_greater_than,
    duration_greater_than_or_equals,
    duration_less_than,
    duration_less_than_or_equals,
)


@pytest.mark.parametrize(
    ("key", "value", "gt", "ge", "lt", "le"),
    [
        ("2h", "1h", True, True, False, False),
        ("1h", "60m", False, True, False, True),
        ("30s", 60, False, False, True, True),
        (120, "1m", True, True, False, False),
        (1.9, 1, False, True, False, True),  # floats are truncated to whole seconds
        ("0", "1s", False, False, True, True),
    ],
)
def test_duration_operators(key: object, value: object, gt: bool, ge: bool, lt: bool, le: bool) -> None:
    assert duration_greater_than(key, value) is gt
    assert duration_greater_than_or_equals(key, value) is ge
    assert duration_less_than(key, value) is lt
    assert duration_less_than_or_equals(key, value) is le


@pytest.mark.parametrize(("key", "value"), [("abc", "1h"), ("1h", "abc"), (True, "1h"), ("1h", None), ([], 1)])
def test_invalid(key: object, value: object) -> None:
    assert duration_greater_than(key, value) is False
    assert duration_less_than_or_equals(key, value) is False
