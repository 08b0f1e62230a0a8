from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from verno.core import operators
from verno.core.conditions import check_conditions, validate_operator_names
from verno.core.errors import ConditionError
from verno.core.models.conditions import AnyAllConditions, Condition
from verno.core.registry import Registry


def _registry() -> Registry:
    reg: Registry = Registry("operator", case_insensitive=True)
    operators.verno_register_operators(reg.registrar("operators"))
    return reg


class FakeRC:
    """Resolves whole-string ``{{ name }}`` variables from a dict; unknown ones become "" (lenient)."""

    def __init__(self, variables: dict[str, Any]):
        self.variables = variables
        self.engine = SimpleNamespace(operators=_registry())
        self.calls: list[bool] = []

    def substitute(self, doc: Any, *, lenient: bool = False) -> Any:
        self.calls.append(lenient)
        if isinstance(doc, str) and doc.startswith("{{") and doc.endswith("}}"):
            return self.variables.get(doc[2:-2].strip(), "")
        return doc


def cond(key: Any, op: str, value: Any, message: str = "") -> Condition:
    return Condition(key=key, operator=op, value=value, message=message)


RC = FakeRC({"ns": "prod", "replicas": 3, "images": ["nginx:1", "redis:2"]})


def test_none_is_true() -> None:
    assert check_conditions(None, RC) == (True, "")


def test_all_and_any() -> None:
    conds = AnyAllConditions(
        any=[cond("{{ns}}", "Equals", "dev", "not dev"), cond("{{ns}}", "Equals", "prod", "is prod")],
        all=[cond("{{replicas}}", "GreaterThan", 1, "replicas > 1")],
    )
    assert check_conditions(conds, RC) == (True, "is prod; replicas > 1")


def test_all_stops_at_first_false_and_reports_it() -> None:
    rc = FakeRC({"ns": "prod"})
    conds = AnyAllConditions(all=[
        cond("{{ns}}", "Equals", "dev", "must be dev"),
        cond("{{ns}}", "Equals", "zzz", "never evaluated"),
    ])
    assert check_conditions(conds, rc) == (False, "must be dev")
    assert len(rc.calls) == 2  # key and value of the first condition only
    assert not any(rc.calls)  # strict: an unresolved variable is an error, as in current Kyverno


def test_any_none_matched_reports_all_messages() -> None:
    conds = AnyAllConditions(any=[cond("{{ns}}", "Equals", "a", "not a"), cond("{{ns}}", "Equals", "b", ""),
                                  cond("{{ns}}", "Equals", "c", "not c")])
    assert check_conditions(conds, RC) == (False, "not a; not c")


def test_any_stops_at_first_true() -> None:
    rc = FakeRC({"ns": "prod"})
    conds = AnyAllConditions(any=[cond("{{ns}}", "Equals", "prod"), cond("{{ns}}", "bogus", "x")])
    assert check_conditions(conds, rc) == (True, "")


def test_false_messages_include_any_misses_before_a_failing_all() -> None:
    conds = AnyAllConditions(
        any=[cond("{{ns}}", "Equals", "dev", "not dev"), cond("{{ns}}", "Equals", "prod", "is prod")],
        all=[cond("{{replicas}}", "LessThan", 1, "too many")],
    )
    assert check_conditions(conds, RC) == (False, "not dev; too many")


def test_empty_any_is_false_like_kyverno() -> None:
    assert check_conditions(AnyAllConditions(any=[]), RC) == (False, "")
    assert check_conditions(AnyAllConditions(all=[]), RC) == (True, "")
    assert check_conditions(AnyAllConditions(), RC) == (True, "")


def test_unresolved_variable_is_empty_string() -> None:
    conds = AnyAllConditions(all=[cond("{{missing}}", "Equals", "", "empty")])
    assert check_conditions(conds, RC) == (True, "empty")


def test_operator_names_are_case_insensitive() -> None:
    conds = AnyAllConditions(all=[cond("{{images}}", "anyin", ["nginx:*"]), cond("{{ns}}", "NOTEQUALS", "dev")])
    assert check_conditions(conds, RC) == (True, "")


def test_legacy_list_is_all() -> None:
    assert check_conditions([cond("{{ns}}", "Equals", "prod", "a"), cond("{{ns}}", "In", ["prod"], "b")],
                            RC) == (True, "a;b")
    assert check_conditions([cond("{{ns}}", "Equals", "dev", "a")], RC) == (False, "a")


def test_unknown_operator_raises() -> None:
    with pytest.raises(ConditionError, match="unknown operator Bogus; supported: Equals, NotEquals"):
        check_conditions(AnyAllConditions(all=[cond("a", "Bogus", "a")]), RC)


def test_validate_operator_names() -> None:
    reg = _registry()
    conds = AnyAllConditions(any=[cond("a", "Equals", "a"), cond("a", "Nope", "a")],
                             all=[cond("a", "anyin", ["a"]), cond("a", "Foo", "a")])
    problems = validate_operator_names(conds, reg)
    assert len(problems) == 2
    assert problems[0].startswith("any[1]: unknown operator Nope; supported: ")
    assert problems[1].startswith("all[1]: unknown operator Foo")
    assert validate_operator_names(None, reg) == []
    assert validate_operator_names([cond("a", "x", "a")], reg)[0].startswith("[0]: unknown operator x")


def test_unresolved_variable_in_a_condition_is_an_error() -> None:
    """Current Kyverno passes a precondition's substitution error on: the rule reports error."""
    import pytest

    from verno.core.errors import SubstitutionError

    class Strict(FakeRC):
        def substitute(self, doc, lenient=False, **kw):
            if doc == "{{missing}}":
                raise SubstitutionError("failed to resolve missing")
            return super().substitute(doc, lenient=lenient, **kw)

    with pytest.raises(SubstitutionError):
        check_conditions(AnyAllConditions(all=[cond("{{missing}}", "Equals", "x", "")]), Strict({}))
