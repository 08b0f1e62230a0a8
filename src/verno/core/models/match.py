"""match / exclude blocks (kyverno.io/v1 MatchResources)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from verno.core.models.base import Model


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(Model):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class ResourceDescription(Model):
    kinds: list[str] = []
    name: str = ""
    names: list[str] = []
    namespaces: list[str] = []
    annotations: dict[str, str] = {}
    selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    operations: list[Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]] = []


class Subject(Model):
    kind: str
    name: str
    namespace: str = ""
    api_group: str = ""


class UserInfo(Model):
    roles: list[str] = []
    cluster_roles: list[str] = []
    subjects: list[Subject] = []


class ResourceFilter(UserInfo):
    resources: ResourceDescription = Field(default_factory=ResourceDescription)


class MatchResources(ResourceFilter):
    any: list[ResourceFilter] = []
    all: list[ResourceFilter] = []
