from __future__ import annotations

from verno.core import operators
from verno.core.registry import Registry


def _registry() -> Registry:
    reg: Registry = Registry("operator", case_insensitive=True)
    operators.verno_register_operators(reg.registrar("operators"))
    return reg


def test_all_eighteen_registered() -> None:
    reg = _registry()
    assert len(reg) == 18
    assert set(reg.names()) == {
        "Equals", "NotEquals", "Equal", "NotEqual", "In", "NotIn", "AnyIn", "AllIn", "AnyNotIn", "AllNotIn",
        "GreaterThan", "GreaterThanOrEquals", "LessThan", "LessThanOrEquals", "DurationGreaterThan",
        "DurationGreaterThanOrEquals", "DurationLessThan", "DurationLessThanOrEquals",
    }


def test_case_insensitive_lookup_and_deprecations() -> None:
    reg = _registry()
    assert reg.get("equals").value("a", "a") is True
    assert reg.get("ANYIN").value("a", ["a"]) is True
    assert reg.get("Equal").options["deprecated_for"] == "Equals"
    assert reg.get("NotEqual").options["deprecated_for"] == "NotEquals"
    assert "AnyIn" in reg.get("In").options["deprecated_for"]
    assert "AnyNotIn" in reg.get("NotIn").options["deprecated_for"]
    assert reg.get("DurationLessThan").options["deprecated_for"] == "LessThan"
    assert "deprecated_for" not in reg.get("Equals").options
