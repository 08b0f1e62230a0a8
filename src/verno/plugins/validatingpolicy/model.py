"""``policies.kyverno.io`` ValidatingPolicy and NamespacedValidatingPolicy (v1alpha1, v1beta1, v1).

Every served version has one schema (Kyverno's v1 types alias v1beta1), so one model reads them all.
Unknown fields are rejected as the API server rejects them.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from verno.core.models.base import Metadata, Model
from verno.core.models.celblocks import (
    AuditAnnotation,
    MatchCondition,
    MatchResources,
    Validation,
    Variable,
    unique_names,
)

GROUP = "policies.kyverno.io"
KINDS = ("ValidatingPolicy", "NamespacedValidatingPolicy")


class Enabled(Model):
    enabled: bool | None = None


class Evaluation(Model):
    mode: Literal["Kubernetes", "JSON", "Envoy", "HTTP"] | None = None
    admission: Enabled | None = None
    background: Enabled | None = None


class PodControllers(Model):
    controllers: list[str] | None = None


class Autogen(Model):
    pod_controllers: PodControllers | None = None
    validating_admission_policy: Enabled | None = None


class WebhookConfiguration(Model):
    timeout_seconds: int | None = Field(default=None, ge=1, le=30)


class ValidatingPolicySpec(Model):
    match_constraints: MatchResources | None = None
    match_conditions: list[MatchCondition] = Field(default=[], max_length=64)
    variables: list[Variable] = []
    validations: list[Validation] = []
    audit_annotations: list[AuditAnnotation] = []
    validation_actions: list[Literal["Deny", "Audit", "Warn"]] = []
    failure_policy: Literal["Ignore", "Fail"] | None = None
    webhook_configuration: WebhookConfiguration | None = None
    evaluation: Evaluation | None = None
    autogen: Autogen | None = None

    @field_validator("match_conditions")
    @classmethod
    def _unique_conditions(cls, value: list[MatchCondition]) -> list[MatchCondition]:
        unique_names(value, "matchConditions")  # type: ignore[arg-type]
        return value

    @field_validator("validation_actions")
    @classmethod
    def _unique_actions(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("validationActions must not repeat an action")
        return value


class ValidatingPolicyDocument(Model):
    api_version: Literal["policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"]
    kind: Literal["ValidatingPolicy", "NamespacedValidatingPolicy"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: ValidatingPolicySpec
    status: Any = None
