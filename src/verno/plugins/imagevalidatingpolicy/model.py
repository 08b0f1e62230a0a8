"""``policies.kyverno.io`` ImageValidatingPolicy and NamespacedImageValidatingPolicy (v1alpha1, v1beta1, v1).

The spec as Kyverno's CRD has it. Attestors, attestations and credentials are read whole (their cosign and
notary settings are kept as given); unknown top-level spec fields are rejected as the API server rejects them.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from verno.core.models.base import Metadata, Model
from verno.core.models.celblocks import AuditAnnotation, MatchCondition, MatchResources, Validation, Variable, unique_names

GROUP = "policies.kyverno.io"
KINDS = ("ImageValidatingPolicy", "NamespacedImageValidatingPolicy")


class ImageReference(Model):
    glob: str = ""
    expression: str = ""

    @model_validator(mode="after")
    def _one_of(self) -> ImageReference:
        if bool(self.glob) == bool(self.expression):
            raise ValueError("exactly one of glob and expression is required")
        return self


class ImageExtractor(Model):
    name: str
    expression: str


class Attestor(Model):
    name: str
    cosign: dict[str, Any] | None = None
    notary: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Attestor:
        if (self.cosign is None) == (self.notary is None):
            raise ValueError("exactly one of cosign and notary is required")
        return self


class Attestation(Model):
    name: str
    intoto: dict[str, Any] | None = None
    referrer: dict[str, Any] | None = None


class ValidationConfigurations(Model):
    mutate_digest: bool | None = None
    verify_digest: bool | None = None
    required: bool | None = None


class Enabled(Model):
    enabled: bool | None = None


class Evaluation(Model):
    mode: Literal["Kubernetes", "JSON"] | None = None
    admission: Enabled | None = None
    background: Enabled | None = None


class PodControllers(Model):
    controllers: list[str] | None = None


class Autogen(Model):
    pod_controllers: PodControllers | None = None


class WebhookConfiguration(Model):
    timeout_seconds: int | None = Field(default=None, ge=1, le=30)


class ImageValidatingPolicySpec(Model):
    match_constraints: MatchResources | None = None
    match_conditions: list[MatchCondition] = Field(default=[], max_length=64)
    variables: list[Variable] = []
    validations: list[Validation] = Field(min_length=1)
    audit_annotations: list[AuditAnnotation] = []
    validation_actions: list[Literal["Deny", "Audit", "Warn"]] = []
    failure_policy: Literal["Ignore", "Fail"] | None = None
    webhook_configuration: WebhookConfiguration | None = None
    evaluation: Evaluation | None = None
    autogen: Autogen | None = None
    match_image_references: list[ImageReference] = []
    images: list[ImageExtractor] = []
    attestors: list[Attestor] = Field(min_length=1)
    attestations: list[Attestation] = []
    validation_configurations: ValidationConfigurations | None = None
    credentials: dict[str, Any] | None = None

    @field_validator("match_conditions")
    @classmethod
    def _unique_conditions(cls, value: list[MatchCondition]) -> list[MatchCondition]:
        unique_names(value, "matchConditions")  # type: ignore[arg-type]
        return value


class ImageValidatingPolicyDocument(Model):
    api_version: Literal["policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"]
    kind: Literal["ImageValidatingPolicy", "NamespacedImageValidatingPolicy"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: ImageValidatingPolicySpec
    status: Any = None
