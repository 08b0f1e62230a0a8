"""Which kinds are cluster-scoped, for resources read from files that carry no namespace.

Kyverno's CLI gives a namespaced resource without a namespace the ``default`` namespace (as
``kubectl apply`` would); cluster-scoped resources keep none. Kinds not listed here are namespaced,
except those named ``Cluster*`` by convention.
"""
from __future__ import annotations

from typing import Any

CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment",
    "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService", "PriorityClass",
    "RuntimeClass", "IngressClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "CertificateSigningRequest", "ComponentStatus", "FlowSchema",
    "PriorityLevelConfiguration", "PodSecurityPolicy", "TokenReview", "SubjectAccessReview",
    "SelfSubjectAccessReview", "SelfSubjectRulesReview", "ServiceCIDR", "IPAddress", "DeviceClass",
    "VolumeAttributesClass",
})


def is_cluster_scoped(kind: str) -> bool:
    return kind in CLUSTER_SCOPED_KINDS or kind.startswith("Cluster")


def with_default_namespace(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with ``metadata.namespace: default`` when it is namespaced and has none (a copy)."""
    meta = resource.get("metadata")
    if not isinstance(meta, dict) or meta.get("namespace") or is_cluster_scoped(str(resource.get("kind") or "")):
        return resource
    return {**resource, "metadata": {**meta, "namespace": "default"}}
