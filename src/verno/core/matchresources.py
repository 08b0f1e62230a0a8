"""Kubernetes' ``MatchResources`` (``matchConstraints`` of CEL policies and admission policies, a binding's
``matchResources``), compiled once and matched against admission requests.

Semantics as Kyverno's matcher (``pkg/cel/matching/matcher.go``, after k8s.io/apiserver's): the namespace
selector, then the object selector, then ``excludeResourceRules`` (any hit: no match), then
``resourceRules`` (group, version, resource with subresources, operations, scope, names; ``*`` everywhere).
A cluster-scoped object other than a Namespace always passes the namespace selector; a Namespace is
selected by its own labels; a namespace whose object is unknown is seen with its one well-known label
``kubernetes.io/metadata.name``. Empty ``resourceRules`` select every resource.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verno.core.loaders.offline_cluster import guess_resource
from verno.core.request import Request
from verno.core.scope import is_cluster_scoped
from verno.core.selectors import compile_selector

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
NAME_LABEL = "kubernetes.io/metadata.name"


def request_resource(request: Request) -> tuple[str, str, str, str]:
    """(group, version, resource, subresource) of a request, the resource guessed from the kind as
    Kubernetes' REST mapper would name it (kept in the request's memo)."""
    found = request.cache.get("gvrs")
    if found is None:
        found = request.cache["gvrs"] = _request_resource(request)
    return found


def _request_resource(request: Request) -> tuple[str, str, str, str]:
    if request.request_kind is not None:
        group, version, kind = request.request_kind
    else:
        group, version, kind = request.group, request.version, request.kind
    return group, version, guess_resource(kind), request.subresource


def namespace_labels(request: Request, namespace: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The labels a namespace selector sees for ``request`` (None: the selector does not apply)."""
    obj = request.resource or request.old_resource or {}
    if request.kind == "Namespace" and not request.subresource:
        return dict((obj.get("metadata") or {}).get("labels") or {})
    if not request.namespace:
        return None if is_cluster_scoped(request.kind) or not request.kind else {}
    if namespace is not None:
        return dict((namespace.get("metadata") or {}).get("labels") or {})
    if request.namespace_labels:
        return dict(request.namespace_labels)
    return {NAME_LABEL: request.namespace}


def _one_of(values: Sequence[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)


@dataclass(frozen=True)
class _Rule:
    groups: tuple[str, ...]
    versions: tuple[str, ...]
    resources: tuple[str, ...]
    operations: tuple[str, ...]
    scope: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> _Rule:
        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in (raw.get(key) or ()))

        return cls(strings("apiGroups"), strings("apiVersions"), strings("resources"), strings("operations"),
                   str(raw.get("scope") or "*"), strings("resourceNames"))

    def matches(self, request: Request, gvrs: tuple[str, str, str, str], *, check_operation: bool) -> bool:
        group, version, resource, sub = gvrs
        if check_operation and not _one_of(self.operations, request.operation):
            return False
        if not _one_of(self.groups, group) or not _one_of(self.versions, version):
            return False
        if not self._resource(resource, sub):
            return False
        if self.scope != "*":
            cluster = is_cluster_scoped(request.kind) and not request.namespace
            if (self.scope == "Cluster") != cluster:
                return False
        if self.names:
            name = str(((request.resource or request.old_resource or {}).get("metadata") or {}).get("name") or "")
            if name:
                return name in self.names
            generate = str(((request.resource or {}).get("metadata") or {}).get("generateName") or "")
            return bool(generate) and any(n.startswith(generate) for n in self.names)
        return True

    def _resource(self, resource: str, sub: str) -> bool:
        full = f"{resource}/{sub}" if sub else resource
        for pattern in self.resources:
            if pattern == "*" and not sub:
                return True
            if pattern == full:
                return True
            if pattern == "*/*":
                return True
            head, _, tail = pattern.partition("/")
            if tail and sub and ((head == "*" and tail == sub) or (head == resource and tail == "*")):
                return True
        return False


def verdict_key(request: Request) -> tuple[Any, ...]:
    """What a :attr:`MatchResources.by_resource_only` verdict reads of a request: its group, version,
    resource and subresource, operation, kind (for the scope) and whether it has a namespace."""
    return request_resource(request), request.operation, request.kind, bool(request.namespace)


class MatchResources:
    """A compiled ``MatchResources``."""

    def __init__(self, raw: Mapping[str, Any] | None):
        raw = raw or {}
        self.raw = raw
        ns_sel = raw.get("namespaceSelector")
        obj_sel = raw.get("objectSelector")
        self._ns = compile_selector(ns_sel) if ns_sel else None
        self._obj = compile_selector(obj_sel) if obj_sel else None
        self.rules = tuple(_Rule.of(r) for r in raw.get("resourceRules") or () if isinstance(r, Mapping))
        self.excluded = tuple(_Rule.of(r) for r in raw.get("excludeResourceRules") or () if isinstance(r, Mapping))

    @property
    def has_selectors(self) -> bool:
        return self._ns is not None or self._obj is not None

    @property
    def by_resource_only(self) -> bool:
        """Whether the verdict depends on nothing but :func:`verdict_key` (no selectors, no resource names)."""
        return not self.has_selectors and not any(r.names for r in self.rules + self.excluded)

    def matches(self, request: Request, namespace: Mapping[str, Any] | None = None, *,
                check_operation: bool = True) -> bool:
        """Whether the request is selected (``namespace``: the request namespace's object, if known)."""
        if self._ns is not None:
            labels = namespace_labels(request, namespace)
            if labels is not None and not self._ns(labels):
                return False
        if self._obj is not None:
            if not self._object_selected(request):
                return False
        gvrs = request_resource(request)
        if any(r.matches(request, gvrs, check_operation=check_operation) for r in self.excluded):
            return False
        if not self.rules:
            return True
        return any(r.matches(request, gvrs, check_operation=check_operation) for r in self.rules)

    def _object_selected(self, request: Request) -> bool:
        # Kubernetes matches the object selector against the new object or the old one
        for obj in (request.resource, request.old_resource):
            if obj:
                if self._obj(dict((obj.get("metadata") or {}).get("labels") or {})):
                    return True
        return False


def simple_constraints(constraints: Mapping[str, Any] | None) -> bool:
    """One resource rule and nothing else (no names, exclusions or selectors): Kyverno's CLI then gives no
    response to a resource the constraints do not select (with selectors, exclusions or names it gives an
    empty one, which a Test shows as ``Excluded``)."""
    if not constraints:
        return True
    rules = constraints.get("resourceRules") or []
    return (len(rules) == 1 and not rules[0].get("resourceNames") and not constraints.get("excludeResourceRules")
            and not constraints.get("namespaceSelector") and not constraints.get("objectSelector"))
