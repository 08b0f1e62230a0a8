"""What every rule kind's ``foreach`` shares (K: ``pkg/engine/utils.EvaluateList``): the list an entry
iterates over."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.pipeline import RuleContext


def evaluate_list(rc: RuleContext, expression: str) -> list[Any]:
    """The value of a ``foreach.list`` expression (variables substituted first); a non-list is one element.

    Raises :class:`~verno.core.errors.VernoError` when the expression cannot be evaluated.
    """
    if "{{" in expression:
        expression = rc.substitute(expression)
    value = rc.query(expression)
    return value if isinstance(value, list) else [value]
