"""``policies.kyverno.io`` MutatingPolicy and NamespacedMutatingPolicy (v1alpha1, v1beta1, v1).

Every served version has one schema (Kyverno's v1 types alias v1beta1), so one model reads them all.
Unknown fields are rejected as the API server rejects them.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from verno.core.models.base import Metadata, Model
from verno.core.models.celblocks import AuditAnnotation, MatchCondition, MatchResources, Mutation, Variable, unique_names

GROUP = "policies.kyverno.io"
KINDS = ("MutatingPolicy", "NamespacedMutatingPolicy")


class Enabled(Model):
    enabled: bool | None = None


class Evaluation(Model):
    mode: Literal["Kubernetes", "JSON"] | None = None
    admission: Enabled | None = None
    background: Enabled | None = None
    mutate_existing: Enabled | None = None
    skip_background_requests: bool | None = None
    use_server_side_apply: bool | None = None


class PodControllers(Model):
    controllers: list[str] | None = None


class Autogen(Model):
    pod_controllers: PodControllers | None = None
    mutating_admission_policy: Enabled | None = None


class WebhookConfiguration(Model):
    timeout_seconds: int | None = Field(default=None, ge=1, le=30)




class TargetMatchConstraints(MatchResources):
    expression: str | None = None


class MutatingPolicySpec(Model):
    match_constraints: MatchResources | None = None
    match_conditions: list[MatchCondition] = Field(default=[], max_length=64)
    variables: list[Variable] = []
    mutations: list[Mutation] = []
    failure_policy: Literal["Ignore", "Fail"] | None = None
    reinvocation_policy: Literal["Never", "IfNeeded"] | None = None
    audit_annotations: list[AuditAnnotation] = []
    target_match_constraints: TargetMatchConstraints | None = None
    target_match_conditions: list[MatchCondition] = Field(default=[], max_length=64)
    webhook_configuration: WebhookConfiguration | None = None
    evaluation: Evaluation | None = None
    autogen: Autogen | None = None

    @field_validator("match_conditions", "target_match_conditions")
    @classmethod
    def _unique_conditions(cls, value: list[MatchCondition]) -> list[MatchCondition]:
        unique_names(value, "matchConditions")  # type: ignore[arg-type]
        return value


class MutatingPolicyDocument(Model):
    api_version: Literal["policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"]
    kind: Literal["MutatingPolicy", "NamespacedMutatingPolicy"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: MutatingPolicySpec
    status: Any = None
