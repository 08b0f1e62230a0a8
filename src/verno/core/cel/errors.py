"""Errors of CEL compilation and evaluation; each names the expression it is about."""
from __future__ import annotations

from verno.core.errors import VernoError

__all__ = ["CELCompileError", "CELCostError", "CELError", "CELEvaluationError"]


def _quote(expression: str) -> str:
    one_line = " ".join(expression.split())
    return one_line if len(one_line) <= 200 else one_line[:197] + "..."


class CELError(VernoError):
    """A CEL expression could not be compiled or evaluated. ``detail`` is the runtime's message alone."""

    what = "CEL expression"

    def __init__(self, expression: str, detail: str):
        self.expression = expression
        self.detail = detail
        super().__init__(f"{self.what} `{_quote(expression)}`: {detail}")


class CELCompileError(CELError):
    """Syntax error, type error (no such overload, undeclared reference) or wrong output type."""

    what = "compiling CEL expression"


class CELEvaluationError(CELError):
    """A runtime error: no such key, no such overload, overflow, division by zero, a function's error."""

    what = "evaluating CEL expression"


class CELCostError(CELEvaluationError):
    """The evaluation would exceed the cost budget (Kubernetes: ``operation cancelled: actual cost limit
    exceeded``)."""
