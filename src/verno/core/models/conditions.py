"""Preconditions and deny conditions."""
from __future__ import annotations

from typing import Any

from verno.core.models.base import JSON, Model


class Condition(Model):
    key: JSON = None
    operator: str
    value: JSON = None
    message: str = ""


class AnyAllConditions(Model):
    any: list[Condition] | None = None
    all: list[Condition] | None = None


#: Preconditions/deny conditions: ``{any: [...], all: [...]}`` or the legacy bare list (AND).
Conditions = AnyAllConditions | list[Condition]


def normalize(conds: Any) -> AnyAllConditions | None:
    """The legacy list form as ``all``; None stays None."""
    if conds is None:
        return None
    if isinstance(conds, list):
        return AnyAllConditions(all=conds)
    return conds
