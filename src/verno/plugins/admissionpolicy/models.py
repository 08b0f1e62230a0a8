"""The ``admissionregistration.k8s.io`` ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding documents.

Field names and allowed values as Kubernetes' v1 API declares them (``k8s.io/api/admissionregistration/v1``);
unknown fields are rejected, so a misspelt field is a load error naming it. ``v1beta1`` has the same schema.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from verno.core.models.base import JSON, Metadata, Model, unique_by
from verno.core.models.match import LabelSelector
from verno.core.models.policy import ParamKind, ParamRef  # shared with validate.cel

API_VERSIONS = ("admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1beta1")
ApiVersion = Literal["admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1beta1"]


class NamedRuleWithOperations(Model):
    api_groups: list[str] = []
    api_versions: list[str] = []
    resources: list[str] = []
    resource_names: list[str] = []
    operations: list[Literal["*", "CREATE", "UPDATE", "DELETE", "CONNECT"]] = []
    scope: Literal["*", "Cluster", "Namespaced"] | None = None


class MatchResources(Model):
    namespace_selector: LabelSelector | None = None
    object_selector: LabelSelector | None = None
    resource_rules: list[NamedRuleWithOperations] = []
    exclude_resource_rules: list[NamedRuleWithOperations] = []
    match_policy: Literal["Exact", "Equivalent"] | None = None


class Validation(Model):
    expression: str
    message: str = ""
    message_expression: str = ""
    reason: str | None = None


class AuditAnnotation(Model):
    key: str
    value_expression: str


class NamedExpression(Model):
    name: str
    expression: str


def _unique_names(items: list[NamedExpression], what: str) -> list[NamedExpression]:
    return unique_by(items, "name", f"{what} name")


class PolicySpec(Model):
    param_kind: ParamKind | None = None
    match_constraints: MatchResources
    validations: list[Validation] = []
    audit_annotations: list[AuditAnnotation] = []
    match_conditions: list[NamedExpression] = []
    variables: list[NamedExpression] = []
    failure_policy: Literal["Fail", "Ignore"] = "Fail"

    @field_validator("match_conditions")
    @classmethod
    def _conditions(cls, value: list[NamedExpression]) -> list[NamedExpression]:
        return _unique_names(value, "match condition")

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: list[NamedExpression]) -> list[NamedExpression]:
        return _unique_names(value, "variable")

    @field_validator("audit_annotations")
    @classmethod
    def _annotations(cls, value: list[AuditAnnotation]) -> list[AuditAnnotation]:
        keys = [a.key for a in value]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"audit annotation key {key!r} is used twice")
        return value

    @model_validator(mode="after")
    def _something_to_check(self) -> PolicySpec:
        if not self.validations and not self.audit_annotations:
            raise ValueError("validations or auditAnnotations must contain at least one item")
        return self


class ValidatingAdmissionPolicy(Model):
    api_version: ApiVersion
    kind: Literal["ValidatingAdmissionPolicy"]
    metadata: Metadata
    spec: PolicySpec
    status: JSON = None


class BindingSpec(Model):
    policy_name: str = Field(min_length=1)
    param_ref: ParamRef | None = None
    match_resources: MatchResources | None = None
    validation_actions: list[Literal["Deny", "Warn", "Audit"]] = []

    @field_validator("validation_actions")
    @classmethod
    def _actions(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("validationActions must not hold an action twice")
        if "Deny" in value and "Warn" in value:
            raise ValueError("validationActions must not contain both Deny and Warn "
                             "(a denied request is already reported to the client)")
        return value


class ValidatingAdmissionPolicyBinding(Model):
    api_version: ApiVersion
    kind: Literal["ValidatingAdmissionPolicyBinding"]
    metadata: Metadata
    spec: BindingSpec
