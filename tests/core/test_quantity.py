from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verno.core.quantity import compare_quantities, parse_quantity, try_parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Decimal(0)),
        ("1Gi", Decimal(1024**3)),
        ("1024Mi", Decimal(1024**3)),
        ("1Ki", Decimal(1024)),
        ("100m", Decimal("0.1")),
        ("0.1", Decimal("0.1")),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("2k", Decimal(2000)),
        ("1M", Decimal(10**6)),
        ("1E", Decimal(10**18)),
        (".5", Decimal("0.5")),
        ("-1.5k", Decimal(-1500)),
        ("+1", Decimal(1)),
        ("5n", Decimal("5e-9")),
        ("1.", Decimal(1)),
        ("Mi", Decimal(0)),  # Go: an empty number is zero
        ("0.0000000001", Decimal("1e-9")),  # rounded up to one nano
    ],
)
def test_parse(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "1e", "1Ki2", "1 Gi", "1ki", "1Gb", "--1", "1.5.5Gi"])
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)
    assert try_parse_quantity(text) is None


def test_non_string() -> None:
    assert try_parse_quantity(1) is None
    assert try_parse_quantity(None) is None


def test_equalities_kyverno_docs() -> None:
    assert parse_quantity("1Gi") == parse_quantity("1024Mi")
    assert parse_quantity("1024") == parse_quantity("1Ki")
    assert compare_quantities(parse_quantity("512Mi"), parse_quantity("1Gi")) == -1
    assert compare_quantities(parse_quantity("2"), parse_quantity("2000m")) == 0
    assert compare_quantities(parse_quantity("3"), parse_quantity("2")) == 1


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_integers_parse_exactly(n: int) -> None:
    assert parse_quantity(str(n)) == Decimal(n)
    assert parse_quantity(f"{n}m") == Decimal(n) / 1000
