"""Kubernetes' ``matchConditions`` semantics, shared by every CEL kind (and by DeletingPolicy ``conditions`` and
PolicyException conditions): a condition that is false decides, whatever errors the others raise; otherwise
the first error; otherwise they are met."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from verno.core.cel.errors import CELError

__all__ = ["evaluate_conditions"]


def evaluate_conditions(programs: Iterable[Any], activation: Any) -> tuple[bool, CELError | None]:
    """``(met, error)``: ``(False, None)`` when one is false, ``(False, error)`` when none is false and one
    failed, ``(True, None)`` when all are true."""
    error: CELError | None = None
    for program in programs:
        try:
            value = activation.evaluate(program)
        except CELError as err:
            error = error or err
            continue
        if value is not True:
            return False, None
    return error is None, error
