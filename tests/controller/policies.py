"""Policies the controller tests use."""
from __future__ import annotations

from typing import Any


def cluster_policy(name: str, *rules: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
            "spec": {**spec, "rules": list(rules)}}


def default_deny(synchronize: bool = True, **generate: Any) -> dict[str, Any]:
    return {"name": "default-deny", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
            "generate": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "name": "default-deny",
                         "namespace": "{{request.object.metadata.name}}", "synchronize": synchronize,
                         "data": {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}, **generate}}


def clone_secret(synchronize: bool = True) -> dict[str, Any]:
    return {"name": "clone-regcred", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
            "exclude": {"any": [{"resources": {"names": ["default", "kube-*", "verno"]}}]},
            "generate": {"apiVersion": "v1", "kind": "Secret", "name": "regcred",
                         "namespace": "{{request.object.metadata.name}}", "synchronize": synchronize,
                         "clone": {"namespace": "default", "name": "regcred"}}}


NETPOL = cluster_policy("add-networkpolicy", default_deny())
