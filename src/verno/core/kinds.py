"""Kyverno's kind selectors (K: pkg/utils/kube/kind.go ``ParseKindSelector``, pkg/utils/match/kind.go).

A selector in ``match.resources.kinds`` is one of ``Kind``, ``version/Kind``, ``group/version/Kind``,
``Kind/sub``, ``*/sub``, ``version/Kind/sub``, ``group/version/Kind/sub`` or ``*/*``; the last segment may
also be split on ``.`` (``Pod.exec``). Every part is wildcard-matched. Selectors are compiled once.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import re2

from verno.core import wildcard

_VERSION = re2.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")

#: (group, version, kind, subresource) -> bool
KindPredicate = Callable[[str, str, str, str], bool]


def parse_kind_selector(selector: str) -> tuple[str, str, str, str]:
    """(group, version, kind, subresource) patterns of a kind selector, as Kyverno parses them."""
    parts = selector.split("/")
    parts = parts[:-1] + parts[-1].split(".")
    n = len(parts)
    if n == 1:
        return "*", "*", parts[0], ""
    if n == 2:
        first, second = parts
        if first == "*" and second == "*":
            return "*", "*", "*", "*"
        if first == "*" and second.lower() == second:
            return "*", "*", "*", second
        if _VERSION.match(first):
            return "*", first, second, ""
        return "*", "*", first, second
    if n == 3:
        if _VERSION.match(parts[0]):
            return "*", parts[0], parts[1], parts[2]
        return parts[0], parts[1], parts[2], ""
    if n == 4:
        return parts[0], parts[1], parts[2], parts[3]
    return "", "", "", ""


def _part(pattern: str) -> Callable[[str], bool]:
    if pattern == "*":
        return lambda _value: True
    if not wildcard.has_wildcard(pattern):
        return pattern.__eq__
    return lambda value: wildcard.match(pattern, value)


@dataclass(frozen=True)
class KindSelector:
    """One compiled selector."""

    text: str
    group: str
    version: str
    kind: str
    subresource: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_g", _part(self.group))
        object.__setattr__(self, "_v", _part(self.version))
        object.__setattr__(self, "_k", _part(self.kind))
        object.__setattr__(self, "_s", _part(self.subresource))

    def matches(self, group: str, version: str, kind: str, subresource: str = "",
                allow_ephemeral: bool = True) -> bool:
        if not (self._k(kind) and self._g(group) and self._v(version)):  # type: ignore[attr-defined]
            return False
        if self._s(subresource):  # type: ignore[attr-defined]
            return True
        # Pod rules also see ``pods/ephemeralcontainers`` (Kyverno's backward compatibility)
        return (allow_ephemeral and subresource == "ephemeralcontainers" and kind == "Pod"
                and group == "" and version == "v1")


@lru_cache(maxsize=2048)
def compile_kind(selector: str) -> KindSelector:
    return KindSelector(selector, *parse_kind_selector(selector))


def compile_kinds(selectors: Iterable[str]) -> KindPredicate:
    """One predicate over (group, version, kind, subresource) that is true when any selector matches."""
    compiled = tuple(compile_kind(s) for s in selectors)
    if len(compiled) == 1:
        return compiled[0].matches
    exact: dict[str, list[KindSelector]] = {}
    other: list[KindSelector] = []
    for sel in compiled:
        if wildcard.has_wildcard(sel.kind):
            other.append(sel)
        else:
            exact.setdefault(sel.kind, []).append(sel)

    def predicate(group: str, version: str, kind: str, subresource: str = "") -> bool:
        for sel in exact.get(kind, ()):
            if sel.matches(group, version, kind, subresource):
                return True
        for sel in other:
            if sel.matches(group, version, kind, subresource):
                return True
        return False

    return predicate


def kind_of(selector: str) -> str:
    """The kind part of a selector (``apps/v1/Deployment/scale`` -> ``Deployment``), as Kyverno's
    ``GetKindFromGVK`` + ``SplitSubresource`` read it for autogen's ``ContainsKind``."""
    parts = selector.split("/")
    n = len(parts)
    if n == 1:
        kind = selector.replace(".", "/", 1)
    elif n == 2:
        if parts[0] == "*" and parts[1] == "*":
            kind = "*/*"
        elif _VERSION.match(parts[0]):
            kind = parts[1].replace(".", "/", 1)
        else:
            kind = parts[0] + "/" + parts[1]
    elif n == 3:
        if _VERSION.match(parts[0]):
            kind = parts[1] + "/" + parts[2]
        else:
            kind = parts[2].replace(".", "/", 1)
    elif n == 4:
        kind = parts[2] + "/" + parts[3]
    else:
        kind = ""
    split = kind.split("/")
    return split[0] if len(split) == 2 else kind


def contains_kind(selectors: Iterable[str], kind: str) -> bool:
    """Kyverno's ``ContainsKind``: whether any selector names ``kind`` exactly (no wildcards)."""
    return any(kind_of(s) == kind for s in selectors)


# ------------------------------------------------------------------------------------------------------
# Built-in kinds and their resources (webhook rules, CEL matchConstraints)

class KindInfo(NamedTuple):
    group: str
    version: str
    resource: str


def _table() -> dict[str, KindInfo]:
    rows = {
        ("", "v1"): "Binding ComponentStatus ConfigMap Endpoints Event LimitRange Namespace Node "
                    "PersistentVolume PersistentVolumeClaim Pod PodTemplate ReplicationController "
                    "ResourceQuota Secret Service ServiceAccount",
        ("apps", "v1"): "ControllerRevision DaemonSet Deployment ReplicaSet StatefulSet",
        ("batch", "v1"): "CronJob Job",
        ("autoscaling", "v2"): "HorizontalPodAutoscaler",
        ("policy", "v1"): "PodDisruptionBudget",
        ("networking.k8s.io", "v1"): "Ingress IngressClass NetworkPolicy",
        ("rbac.authorization.k8s.io", "v1"): "ClusterRole ClusterRoleBinding Role RoleBinding",
        ("storage.k8s.io", "v1"): "CSIDriver CSINode CSIStorageCapacity StorageClass VolumeAttachment",
        ("admissionregistration.k8s.io", "v1"): "MutatingWebhookConfiguration ValidatingAdmissionPolicy "
                                                "ValidatingAdmissionPolicyBinding ValidatingWebhookConfiguration",
        ("apiextensions.k8s.io", "v1"): "CustomResourceDefinition",
        ("apiregistration.k8s.io", "v1"): "APIService",
        ("scheduling.k8s.io", "v1"): "PriorityClass",
        ("coordination.k8s.io", "v1"): "Lease",
        ("discovery.k8s.io", "v1"): "EndpointSlice",
        ("certificates.k8s.io", "v1"): "CertificateSigningRequest",
        ("node.k8s.io", "v1"): "RuntimeClass",
        ("events.k8s.io", "v1"): "Event",
        ("flowcontrol.apiserver.k8s.io", "v1"): "FlowSchema PriorityLevelConfiguration",
        ("kyverno.io", "v1"): "ClusterPolicy Policy",
        ("kyverno.io", "v2"): "PolicyException",
    }
    out: dict[str, KindInfo] = {}
    for (group, version), kinds in rows.items():
        for kind in kinds.split():
            out.setdefault(kind, KindInfo(group, version, plural(kind)))
    return out


_IRREGULAR = {"Endpoints": "endpoints"}


def plural(kind: str) -> str:
    """The resource name of a kind (lowercase plural), as Kubernetes' default RESTMapper guesses it."""
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    low = kind.lower()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


#: built-in kind -> (group, preferred version, resource)
BUILTIN_KINDS: dict[str, KindInfo] = _table()


def kind_entries(selector: str) -> tuple[str, str, str, str]:
    """(group, version, resource, subresource) for one kind selector of a rule."""
    group, version, kind, sub = parse_kind_selector(selector)
    if not kind:
        raise ValueError(f"invalid kind selector {selector!r}")
    if wildcard.has_wildcard(kind):
        return group or "*", version or "*", "*", sub
    info = BUILTIN_KINDS.get(kind)
    if info is not None and group in ("*", info.group):
        return info.group, info.version if version == "*" else version, info.resource, sub
    return group, version, plural(kind), sub
