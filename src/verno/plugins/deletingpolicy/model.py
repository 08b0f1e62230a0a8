"""``policies.kyverno.io`` DeletingPolicy and NamespacedDeletingPolicy (v1alpha1, v1beta1, v1).

Spec as Kyverno's CRD has it: ``matchConstraints``, ``conditions`` (at most 64), ``variables``, ``schedule``
(a cron expression, required) and ``deletionPropagationPolicy``. Unknown fields are rejected, as the API
server rejects them.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from verno.core.models.base import Metadata, Model
from verno.core.models.celblocks import MatchCondition, MatchResources, Variable, unique_names

GROUP = "policies.kyverno.io"
KINDS = ("DeletingPolicy", "NamespacedDeletingPolicy")


class DeletingPolicySpec(Model):
    match_constraints: MatchResources | None = None
    conditions: list[MatchCondition] = Field(default=[], max_length=64)
    variables: list[Variable] = []
    schedule: str
    deletion_propagation_policy: Literal["Foreground", "Background", "Orphan"] | None = None

    @field_validator("conditions")
    @classmethod
    def _unique_conditions(cls, value: list[MatchCondition]) -> list[MatchCondition]:
        unique_names(value, "conditions")  # type: ignore[arg-type]
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from verno.core.schedule import check_schedule

        check_schedule(value)
        return value


class DeletingPolicyDocument(Model):
    api_version: Literal["policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"]
    kind: Literal["DeletingPolicy", "NamespacedDeletingPolicy"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: DeletingPolicySpec
    status: Any = None
