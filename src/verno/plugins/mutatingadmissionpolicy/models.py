"""The ``admissionregistration.k8s.io`` MutatingAdmissionPolicy and MutatingAdmissionPolicyBinding documents.

Field names and allowed values as Kubernetes declares them (``v1alpha1``, ``v1beta1`` and ``v1`` share one
schema); unknown fields are rejected, so a misspelt field is a load error naming it.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from verno.core.models.base import Metadata, Model, unique_by
from verno.core.models.celblocks import MatchCondition, MatchResources, Mutation, Variable
from verno.core.models.policy import ParamKind, ParamRef

GROUP = "admissionregistration.k8s.io"
ApiVersion = Literal["admissionregistration.k8s.io/v1alpha1", "admissionregistration.k8s.io/v1beta1",
                     "admissionregistration.k8s.io/v1"]




class PolicySpec(Model):
    param_kind: ParamKind | None = None
    match_constraints: MatchResources
    variables: list[Variable] = []
    mutations: list[Mutation] = Field(min_length=1)
    failure_policy: Literal["Fail", "Ignore"] = "Fail"
    match_conditions: list[MatchCondition] = Field(default=[], max_length=64)
    reinvocation_policy: Literal["Never", "IfNeeded"] = "Never"

    @field_validator("match_conditions")
    @classmethod
    def _conditions(cls, value: list[MatchCondition]) -> list[MatchCondition]:
        return unique_by(value, "name", "match condition name")

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: list[Variable]) -> list[Variable]:
        return unique_by(value, "name", "variable name")


class MutatingAdmissionPolicy(Model):
    api_version: ApiVersion
    kind: Literal["MutatingAdmissionPolicy"]
    metadata: Metadata
    spec: PolicySpec
    status: Any = None


class BindingSpec(Model):
    policy_name: str = Field(min_length=1)
    param_ref: ParamRef | None = None
    match_resources: MatchResources | None = None


class MutatingAdmissionPolicyBinding(Model):
    api_version: ApiVersion
    kind: Literal["MutatingAdmissionPolicyBinding"]
    metadata: Metadata
    spec: BindingSpec
