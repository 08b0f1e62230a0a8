"""Values files (``cli.kyverno.io/v1alpha1``, kind Values): variables for offline evaluation."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from verno.core.models.base import Metadata, Model

#: the operations ``request.operation`` may name in a Values file
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


def _check_operation(values: dict[str, Any]) -> dict[str, Any]:
    op = values.get("request.operation")
    if op is not None and (not isinstance(op, str) or op.upper() not in OPERATIONS):
        raise ValueError(f"request.operation must be one of {', '.join(OPERATIONS)}, got {op!r}")
    return values


class RuleValues(Model):
    name: str
    values: dict[str, Any] = {}
    foreach_values: dict[str, list[Any]] = {}


class ResourceValues(Model):
    name: str
    values: dict[str, Any] = {}

    _operation = field_validator("values")(_check_operation)


class PolicyValues(Model):
    name: str
    rules: list[RuleValues] = []
    resources: list[ResourceValues] = []


class NamespaceSelector(Model):
    name: str
    labels: dict[str, str] = {}


class APIResource(BaseModel):
    """A Values subresource's ``parentResource`` or ``subresource`` (Kubernetes' APIResource): the fields verno
    reads are typed, the rest kept."""

    model_config = ConfigDict(extra="allow")
    name: str = ""
    kind: str = ""
    group: str = ""
    version: str = ""


class Subresource(Model):
    parent_resource: APIResource
    subresource: APIResource


class NamespaceMetadata(Metadata):
    """A Namespace's metadata as the Values file gives it: the name is required."""

    name: str


class NamespaceObject(BaseModel):
    """A Namespace object of a Values file (kept whole; its name and labels are checked)."""

    model_config = ConfigDict(extra="allow")
    metadata: NamespaceMetadata

    def as_object(self) -> dict[str, Any]:
        """The object as written."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class ValuesBody(Model):
    global_values: dict[str, Any] = {}
    policies: list[PolicyValues] = []
    namespace_selector: list[NamespaceSelector] = []
    #: Namespace objects (a name required; labels and annotations string maps; other fields kept)
    namespaces: list[NamespaceObject] = []
    subresources: list[Subresource] = []

    _operation = field_validator("global_values")(_check_operation)


class ValuesFile(ValuesBody):
    api_version: Literal["cli.kyverno.io/v1alpha1", "cli.kyverno.io/v1beta1"]
    kind: Literal["Values", "Value"]
    metadata: Metadata | None = None

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        """Namespace name -> labels, from ``namespaceSelector`` and ``namespaces``."""
        out = {ns.name: dict(ns.labels) for ns in self.namespace_selector}
        for obj in self.namespaces:
            if obj.metadata.name:
                out.setdefault(obj.metadata.name, {}).update(obj.metadata.labels)
        return out

    def policy(self, name: str) -> PolicyValues | None:
        for p in self.policies:
            if p.name == name:
                return p
        return None
