"""``policies.kyverno.io`` GeneratingPolicy and NamespacedGeneratingPolicy (v1alpha1, v1beta1, v1).

Spec as Kyverno's CRD has it; unknown fields are rejected, as the API server rejects them. Each ``generate``
entry holds exactly one of ``expression`` and ``template``.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from verno.core.models.base import Metadata, Model
from verno.core.models.celblocks import AuditAnnotation, MatchCondition, MatchResources, Variable, unique_names

GROUP = "policies.kyverno.io"
KINDS = ("GeneratingPolicy", "NamespacedGeneratingPolicy")


class Enabled(Model):
    enabled: bool | None = None


class Evaluation(Model):
    admission: Enabled | None = None
    generate_existing: Enabled | None = None
    synchronize: Enabled | None = None
    orphan_downstream_on_policy_delete: Enabled | None = None
    skip_background_requests: bool | None = None


class Template(Model):
    value: str
    interpolate: Literal["none", "cel"] | None = None


class Generation(Model):
    expression: str = ""
    template: Template | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Generation:
        if bool(self.expression) == (self.template is not None):
            raise ValueError("exactly one of expression and template is required")
        return self


class WebhookConfiguration(Model):
    timeout_seconds: int | None = Field(default=None, ge=1, le=30)


class GeneratingPolicySpec(Model):
    match_constraints: MatchResources | None = None
    match_conditions: list[MatchCondition] = Field(default=[], max_length=64)
    variables: list[Variable] = []
    generate: list[Generation] = Field(min_length=1)
    audit_annotations: list[AuditAnnotation] = []
    use_server_side_apply: bool = False
    webhook_configuration: WebhookConfiguration | None = None
    evaluation: Evaluation | None = None

    @field_validator("match_conditions")
    @classmethod
    def _unique_conditions(cls, value: list[MatchCondition]) -> list[MatchCondition]:
        unique_names(value, "matchConditions")  # type: ignore[arg-type]
        return value


class GeneratingPolicyDocument(Model):
    api_version: Literal["policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"]
    kind: Literal["GeneratingPolicy", "NamespacedGeneratingPolicy"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: GeneratingPolicySpec
    status: Any = None
