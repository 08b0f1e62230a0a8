"""Kubernetes' RBAC authorizer over a given set of Roles, ClusterRoles and their bindings.

What ``authorizer.…check(verb)`` answers offline (`verno test`, from the Test's cluster resources or its
Context file), with the API server's semantics (K:`plugin/pkg/auth/authorizer/rbac/rbac.go`,
`pkg/apis/rbac/v1/evaluation_helpers.go`):

* a ClusterRoleBinding grants its ClusterRole's rules everywhere, a RoleBinding grants its Role's (same
  namespace) or ClusterRole's rules in its own namespace only;
* subjects: ``User`` by name, ``Group`` by the user's groups, ``ServiceAccount`` as
  ``system:serviceaccount:<namespace>:<name>``;
* a rule matches when its verbs, apiGroups and resources (``resource/subresource``, ``*``, ``*/sub``) and
  its resourceNames (none = any) cover the request; non-resource URLs (``/healthz``, ``/api/*``) are granted
  by ClusterRoleBindings only;
* an aggregated ClusterRole (``aggregationRule``) holds the rules of the ClusterRoles its selectors match.

Nothing granted is Kubernetes' "no opinion": not allowed, with an empty reason.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verno.core.selectors import selector_matches

__all__ = ["Attributes", "Decision", "RBAC", "service_account_user"]

GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Attributes:
    """What is asked: a resource request (``resource`` set) or a non-resource one (``path`` set)."""

    user: str
    groups: tuple[str, ...] = ()
    verb: str = ""
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    error: str = ""


def service_account_user(namespace: str, name: str) -> tuple[str, tuple[str, ...]]:
    """The user name and groups Kubernetes gives a service account's requests."""
    return (f"system:serviceaccount:{namespace}:{name}",
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"))


def _subject_matches(subject: Mapping[str, Any], binding_namespace: str, attrs: Attributes) -> bool:
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "User":
        return name == attrs.user
    if kind == "Group":
        return name in attrs.groups
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return bool(namespace) and attrs.user == f"system:serviceaccount:{namespace}:{name}"
    return False


def _covers(values: Iterable[Any], wanted: str) -> bool:
    values = [str(v) for v in values or ()]
    return "*" in values or wanted in values


def _resource_matches(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for resource in rule.get("resources") or ():
        resource = str(resource)
        if resource in ("*", combined) or (attrs.subresource and resource == f"*/{attrs.subresource}"):
            return True
    return False


def _path_matches(rule: Mapping[str, Any], path: str) -> bool:
    for url in rule.get("nonResourceURLs") or ():
        url = str(url)
        if url in ("*", path) or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    if not _covers(rule.get("verbs"), attrs.verb):
        return False
    if attrs.path:
        return _path_matches(rule, attrs.path)
    names = rule.get("resourceNames") or ()
    return (_covers(rule.get("apiGroups"), attrs.group) and _resource_matches(rule, attrs)
            and (not names or attrs.name in [str(n) for n in names]))


def _describe(binding_kind: str, binding: Mapping[str, Any], subject: Mapping[str, Any], namespace: str) -> str:
    """The API server's words for the grant (K:`pkg/registry/rbac/validation/rule.go` describers)."""
    name = str((binding.get("metadata") or {}).get("name") or "")
    if namespace:
        name = f"{name}/{namespace}"
    ref = binding.get("roleRef") or {}
    who = str(subject.get("name") or "")
    if subject.get("kind") == "ServiceAccount":
        who = f"{who}/{subject.get('namespace') or namespace}"
    return f'{binding_kind} "{name}" of {ref.get("kind")} "{ref.get("name")}" to {subject.get("kind")} "{who}"'


class RBAC:
    """The authorizer of one set of RBAC objects (any other objects given are ignored)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]]):
        self._cluster_roles: dict[str, Mapping[str, Any]] = {}
        self._roles: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._cluster_bindings: list[Mapping[str, Any]] = []
        self._bindings: dict[str, list[Mapping[str, Any]]] = {}
        for obj in objects:
            api_version = str(obj.get("apiVersion") or "")
            if api_version.rpartition("/")[0] != GROUP:
                continue
            meta = obj.get("metadata") or {}
            name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
            kind = obj.get("kind")
            if kind == "ClusterRole":
                self._cluster_roles[name] = obj
            elif kind == "Role":
                self._roles[(namespace, name)] = obj
            elif kind == "ClusterRoleBinding":
                self._cluster_bindings.append(obj)
            elif kind == "RoleBinding":
                self._bindings.setdefault(namespace, []).append(obj)

    @property
    def empty(self) -> bool:
        """No binding given: nothing can be granted."""
        return not self._cluster_bindings and not self._bindings

    def _cluster_role_rules(self, name: str) -> list[Mapping[str, Any]]:
        role = self._cluster_roles.get(name)
        if role is None:
            return []
        rules = list(role.get("rules") or [])
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        for other_name, other in self._cluster_roles.items():
            labels = (other.get("metadata") or {}).get("labels") or {}
            if other_name != name and any(selector_matches(s, labels) for s in selectors):
                rules.extend(other.get("rules") or [])
        return rules

    def _role_rules(self, binding: Mapping[str, Any], namespace: str) -> tuple[str, list[Mapping[str, Any]]]:
        ref = binding.get("roleRef") or {}
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        if kind == "ClusterRole":
            return kind, self._cluster_role_rules(name)
        if kind == "Role" and namespace:
            return kind, list((self._roles.get((namespace, name)) or {}).get("rules") or [])
        return kind, []

    def authorize(self, attrs: Attributes) -> Decision:
        scopes: list[tuple[str, str, list[Mapping[str, Any]]]] = [("ClusterRoleBinding", "", self._cluster_bindings)]
        if attrs.namespace and not attrs.path:
            scopes.append(("RoleBinding", attrs.namespace, self._bindings.get(attrs.namespace, [])))
        for binding_kind, namespace, bindings in scopes:
            for binding in bindings:
                for subject in binding.get("subjects") or ():
                    if not _subject_matches(subject, namespace, attrs):
                        continue
                    _, rules = self._role_rules(binding, namespace)
                    if any(rule_allows(rule, attrs) for rule in rules):
                        return Decision(True, f"RBAC: allowed by {_describe(binding_kind, binding, subject, namespace)}")
                    break
        return Decision(False)
