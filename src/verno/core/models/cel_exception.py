"""``policies.kyverno.io`` PolicyException (v1alpha1, v1beta1, v1): exceptions to Kyverno's CEL policy kinds.

Not to be confused with ``kyverno.io/v2`` PolicyException (``exception.py``), which exempts ClusterPolicy
rules. Evaluation is in :mod:`verno.core.cel.exceptions`.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from verno.core.models.base import Metadata, Model
from verno.core.models.celblocks import MatchCondition, unique_names

API_VERSIONS = ("policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1")
#: the label that orders several matching exceptions (the highest integer chooses ``reportResult``)
PRIORITY_LABEL = "polex.kyverno.io/priority"


class PolicyRef(Model):
    name: str
    kind: str


class CELExceptionSpec(Model):
    policy_refs: list[PolicyRef] = Field(min_length=1)
    match_conditions: list[MatchCondition] = []
    images: list[str] = []
    allowed_values: list[str] = []
    report_result: Literal["skip", "pass"] = "skip"
    expires_at: str = ""
    properties: dict[str, str] = {}
    evaluation_mode: str = ""

    @field_validator("match_conditions")
    @classmethod
    def _unique(cls, value: list[MatchCondition]) -> list[MatchCondition]:
        unique_names(value, "matchConditions")  # type: ignore[arg-type]
        return value


class CELPolicyException(Model):
    api_version: Literal["policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"]
    kind: Literal["PolicyException"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: CELExceptionSpec
    status: Any = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def key(self) -> str:
        """``<ns>/<name>`` as Kyverno names exceptions in messages and reports (``/<name>`` without one)."""
        return f"{self.namespace}/{self.name}"

    @property
    def priority(self) -> int | None:
        raw = self.metadata.labels.get(PRIORITY_LABEL)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None
