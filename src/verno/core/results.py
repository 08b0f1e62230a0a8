"""What evaluating a rule produces. Plain dataclasses: they are created per resource per rule."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"
    SKIP = "skip"

    def __str__(self) -> str:
        return self.value


RULE_TYPES = {
    "validate": "Validation",
    "mutate": "Mutation",
    "generate": "Generation",
    "verifyImages": "ImageVerify",
}


@dataclass(slots=True)
class RuleResponse:
    name: str
    rule_type: str  # "Validation", "Mutation", ... as Kyverno names them
    status: Status
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    patched_resource: dict | None = None
    generated_resources: list[dict] = field(default_factory=list)
    #: the exception (``ns/name``) that skipped the rule, if any
    exception: str | None = None
    #: the pattern path that failed, where a validate rule reports one
    path: str = ""
    #: the decision trace (:class:`verno.core.trace.Trace`) when one was asked for, else None
    trace: Any = None


@dataclass(slots=True)
class PolicyResponse:
    """The responses of one policy's rules for one resource (the ``EngineResponse`` of Kyverno)."""

    policy: Any  # verno.core.models.policy.Policy
    resource: dict
    rules: list[RuleResponse] = field(default_factory=list)
    #: the resource after every mutation of this policy (the input when nothing mutated it)
    patched_resource: dict | None = None
    namespace_labels: dict[str, str] = field(default_factory=dict)
    operation: str = "CREATE"

    def statuses(self) -> list[Status]:
        return [r.status for r in self.rules]
