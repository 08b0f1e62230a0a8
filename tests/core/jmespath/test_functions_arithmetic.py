from __future__ import annotations

import pytest

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath

# expected values from Kyverno's own arithmetic tests (pkg/engine/jmespath/arithmetic_test.go)


@pytest.mark.parametrize("expr, expected", [
    ("add(`12`, `13`)", 25),
    ("add('12Ki', '13Ki')", "25Ki"),
    ("add('12Ki', '13')", "12301"),
    ("add('12s', '13s')", "25s"),
    ("add('1Gi', '512Mi')", "1536Mi"),
    ("add('1h', '30s')", "1h0m30s"),
    ("add('1000m', '1')", "2"),
    ("add('1', '500m')", "1500m"),
    ("add('512Mi', '-512Mi')", "0"),
    ("sum([`12`])", 12),
    ("sum([`12`, `13`, `1`, `4`])", 30),
    ("sum(['12Ki', '13Ki', '1Ki', '4Ki'])", "30Ki"),
    ("sum(['12Ki', '13'])", "12301"),
    ("sum(['12s', '13s', '1s', '4s'])", "30s"),
    ("subtract(`12`, `13`)", -1),
    ("subtract('12Ki', '13Ki')", "-1Ki"),
    ("subtract('12Ki', '13')", "12275"),
    ("subtract('12s', '13s')", "-1s"),
    ("multiply('12Ki', `2`)", "24Ki"),
    ("multiply('12s', `2`)", "24s"),
    ("multiply(`2.5`, `2.5`)", 6.25),
    ("multiply(`2.5`, '12Ki')", "30Ki"),
    ("multiply(`2.5`, '12')", "30"),
    ("multiply(`2.5`, '40s')", "1m40s"),
    ("divide('256M', '256M')", 1),
    ("divide('512M', '256M')", 2),
    ("divide('8', '3')", 8 / 3),
    ("divide('128M', '256M')", 0.5),
    ("divide('12Ki', `3`)", "4Ki"),
    ("divide('12Ki', '2Ki')", 6),
    ("divide('12Ki', '200')", 61.44),
    ("divide('12s', `3`)", "4s"),
    ("divide('12s', '5s')", 2.4),
    ("divide(`14`, `3`)", 4.666666666666667),
    ("modulo('12Ki', '5Ki')", "2Ki"),
    ("modulo('13s', '2s')", "1s"),
    ("modulo(`13`, `5`)", 3),
    ("modulo(`-13`, `5`)", -3),
    ("round(`3.14159`, `2`)", 3.14),
    ("round(`2.5`, `0`)", 3),
    ("round(`-2.5`, `0`)", -3),
])
def test_arithmetic(jp: JMESPath, expr: str, expected: object) -> None:
    assert jp.search(expr, {}) == expected


@pytest.mark.parametrize("expr, message", [
    ("add('12', '13s')", "Types mismatch"),
    ("add(`12`, '13Ki')", "Types mismatch"),
    ("add(`12`, '13')", "Types mismatch"),
    ("add('12Ki', '13s')", "Types mismatch"),
    ("add('12s', `13`)", "Types mismatch"),
    ("add('1h', '30m')", "Types mismatch"),  # '30m' is 30 milli (a quantity), as in Go
    ("add('abc', `1`)", "invalid operands"),
    ("sum(`[]`)", "at least one element in the array is required"),
    ("sum(['12s', `13`])", "Types mismatch"),
    ("subtract('12Ki', `13`)", "Types mismatch"),
    ("multiply('12Ki', '12Ki')", "Types mismatch"),
    ("multiply('12s', '12s')", "Types mismatch"),
    ("divide('12Ki', '2s')", "Types mismatch"),
    ("divide(`14`, '5')", "Types mismatch"),
    ("divide(`14`, `0`)", "Zero divisor passed"),
    ("divide('4Ki', '0Ki')", "Zero divisor passed"),
    ("divide('4s', '0s')", "Zero divisor passed"),
    ("modulo('12Ki', `13`)", "Types mismatch"),
    ("modulo(`14`, `0`)", "Zero divisor passed"),
    ("modulo('4', '1.5')", "Non-integer argument"),
    ("modulo(`14.5`, `2`)", "Non-integer argument"),
    ("round(`1.5`, `0.5`)", "Non-integer argument(s) passed for round off"),
])
def test_arithmetic_errors(jp: JMESPath, expr: str, message: str) -> None:
    with pytest.raises(JMESPathError) as info:
        jp.search(expr, {})
    assert message in str(info.value)
    assert str(info.value).startswith("JMESPath function '")
