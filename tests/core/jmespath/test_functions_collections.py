from __future__ import annotations

import pytest

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath


@pytest.mark.parametrize("expr, expected", [
    ("lookup(`{\"a\": 1, \"b\": 2}`, 'b')", 2),
    ("lookup(`{\"a\": 1}`, 'z')", None),
    ("lookup(`[10, 20, 30]`, `1`)", 20),
    ("lookup(`[10, 20, 30]`, `3`)", None),
    ("lookup(`[10, 20, 30]`, `-1`)", None),
    ("items(`{\"b\": 2, \"a\": 1}`, 'key', 'value')",
     [{"key": "a", "value": 1}, {"key": "b", "value": 2}]),
    ("items(`[\"x\", \"y\"]`, 'i', 'v')", [{"i": 0, "v": "x"}, {"i": 1, "v": "y"}]),
    ("object_from_lists(`[\"a\", \"b\"]`, `[1, 2]`)", {"a": 1, "b": 2}),
    ("object_from_lists(`[\"a\", \"b\", \"c\"]`, `[1]`)", {"a": 1, "b": None, "c": None}),
    ("object_from_lists(`[\"a\", 1]`, `[1, 2, 3]`)", {"a": 1, "1": 2}),
])
def test_collection_functions(jp: JMESPath, expr: str, expected: object) -> None:
    assert jp.search(expr, {}) == expected


@pytest.mark.parametrize("expr", [
    "lookup(`{\"a\": 1}`, `1`)",
    "lookup(`[1]`, 'a')",
    "lookup(`[1]`, `0.5`)",
    "object_from_lists(`[{}]`, `[1]`)",
    "items('x', 'k', 'v')",
])
def test_collection_errors(jp: JMESPath, expr: str) -> None:
    with pytest.raises(JMESPathError):
        jp.search(expr, {})
