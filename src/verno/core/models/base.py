"""The base model: camelCase field names as Kyverno writes them, unknown fields rejected."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=False,
        arbitrary_types_allowed=True,
    )


class Metadata(BaseModel):
    """Kubernetes ObjectMeta: only the fields verno reads are typed; the rest are kept."""

    model_config = ConfigDict(extra="allow")
    name: str = ""
    namespace: str = ""
    annotations: dict[str, str] = {}
    labels: dict[str, str] = {}


#: A JSON value written by a user (patterns, conditions, data): kept as plain Python data.
JSON = Any


def unique_by(items: list[Any], attr: str, what: str, how: str = "used") -> list[Any]:
    """``items`` when no two share ``attr``; a ValueError naming the repeated value otherwise."""
    seen: set[Any] = set()
    for item in items:
        value = getattr(item, attr)
        if value in seen:
            raise ValueError(f"{what} {value!r} is {how} twice")
        seen.add(value)
    return items
