"""The 18 Kyverno condition operators, a built-in verno plugin.

Each operator is ``fn(key, value) -> bool`` over substituted JSON values and follows Kyverno's
``pkg/engine/variables/operator``: an operand of the wrong type makes the condition false.
"""
from __future__ import annotations

from collections.abc import Callable

from verno.core.hookspecs import hookimpl
from verno.core.operators import duration_ops, equality, membership, numeric

#: name -> (fn, the operator to use instead, or None)
OPERATORS: dict[str, tuple[Callable[..., bool], str | None]] = {
    "Equals": (equality.equals, None),
    "NotEquals": (equality.not_equals, None),
    "Equal": (equality.equals, "Equals"),
    "NotEqual": (equality.not_equals, "NotEquals"),
    "In": (membership.in_, "AllIn or AnyIn"),
    "NotIn": (membership.not_in, "AllNotIn or AnyNotIn"),
    "AnyIn": (membership.any_in, None),
    "AllIn": (membership.all_in, None),
    "AnyNotIn": (membership.any_not_in, None),
    "AllNotIn": (membership.all_not_in, None),
    "GreaterThan": (numeric.greater_than, None),
    "GreaterThanOrEquals": (numeric.greater_than_or_equals, None),
    "LessThan": (numeric.less_than, None),
    "LessThanOrEquals": (numeric.less_than_or_equals, None),
    "DurationGreaterThan": (duration_ops.duration_greater_than, "GreaterThan"),
    "DurationGreaterThanOrEquals": (duration_ops.duration_greater_than_or_equals, "GreaterThanOrEquals"),
    "DurationLessThan": (duration_ops.duration_less_than, "LessThan"),
    "DurationLessThanOrEquals": (duration_ops.duration_less_than_or_equals, "LessThanOrEquals"),
}


@hookimpl
def verno_register_operators(register: Callable[..., None]) -> None:
    for name, (fn, instead) in OPERATORS.items():
        if instead is None:
            register(name, fn)
        else:
            register(name, fn, deprecated_for=instead)
