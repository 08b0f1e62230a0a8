"""The ``admissionregistration.k8s.io/v1`` building blocks of CEL policies, as Kyverno's CRDs accept them.

``MatchResources`` (``matchConstraints``), ``matchConditions``, ``variables``, ``validations`` and
``auditAnnotations`` are shared by the ``policies.kyverno.io`` kinds (and a ValidatingAdmissionPolicy's
spec has the same shapes). Unknown fields are rejected, as the API server rejects them.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from verno.core.models.base import Model
from verno.core.models.match import LabelSelector

Operation = Literal["*", "CREATE", "UPDATE", "DELETE", "CONNECT"]


class ResourceRule(Model):
    api_groups: list[str] = []
    api_versions: list[str] = []
    resources: list[str] = []
    resource_names: list[str] = []
    operations: list[Operation] = []
    scope: Literal["Cluster", "Namespaced", "*"] | None = None


class MatchResources(Model):
    namespace_selector: LabelSelector | None = None
    object_selector: LabelSelector | None = None
    resource_rules: list[ResourceRule] = []
    exclude_resource_rules: list[ResourceRule] = []
    match_policy: Literal["Exact", "Equivalent"] | None = None


class NamedExpression(Model):
    name: str
    expression: str

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value:
            raise ValueError("a name is required")
        return value


class MatchCondition(NamedExpression):
    pass


class Variable(NamedExpression):
    pass


class Validation(Model):
    expression: str
    message: str = ""
    message_expression: str = ""
    reason: str = ""


class AuditAnnotation(Model):
    key: str
    value_expression: str


class MutationExpression(Model):
    expression: str = Field(min_length=1)


class Mutation(Model):
    """A ``mutations[]`` entry of a MutatingAdmissionPolicy or MutatingPolicy."""

    patch_type: Literal["ApplyConfiguration", "JSONPatch"]
    apply_configuration: MutationExpression | None = None
    json_patch: MutationExpression | None = None

    @model_validator(mode="after")
    def _one_patch(self) -> Mutation:
        if self.patch_type == "ApplyConfiguration" and (self.apply_configuration is None or self.json_patch):
            raise ValueError("patchType ApplyConfiguration needs applyConfiguration (and no jsonPatch)")
        if self.patch_type == "JSONPatch" and (self.json_patch is None or self.apply_configuration):
            raise ValueError("patchType JSONPatch needs jsonPatch (and no applyConfiguration)")
        return self


def unique_names(items: list[NamedExpression], what: str) -> list[NamedExpression]:
    """Kubernetes rejects two ``matchConditions`` (or ``variables``) with one name."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.name in seen:
            raise ValueError(f"{what}[{i}].name: duplicate name {item.name!r}")
        seen.add(item.name)
    return items


__all__ = ["AuditAnnotation", "MatchCondition", "MatchResources", "Mutation", "MutationExpression", "NamedExpression",
           "Operation", "ResourceRule", "Validation", "Variable", "unique_names"]
