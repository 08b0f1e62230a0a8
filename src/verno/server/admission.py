"""AdmissionReview (admission.k8s.io/v1) in, ``verno.core.request.Request`` out, AdmissionReview back."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from verno.core.request import Request

API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")

#: resource (plural) -> Kind for parents of common subresources (``deployments/scale`` -> Deployment)
PARENT_KINDS = {
    "pods": "Pod", "deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet", "replicationcontrollers": "ReplicationController", "jobs": "Job",
    "cronjobs": "CronJob", "services": "Service", "nodes": "Node", "namespaces": "Namespace",
    "persistentvolumeclaims": "PersistentVolumeClaim", "persistentvolumes": "PersistentVolume",
    "serviceaccounts": "ServiceAccount", "horizontalpodautoscalers": "HorizontalPodAutoscaler",
    "certificatesigningrequests": "CertificateSigningRequest",
}


class BadReview(ValueError):
    """The body is not an AdmissionReview verno can answer (HTTP 400)."""


@dataclass
class Review:
    api_version: str
    uid: str
    request: dict[str, Any]
    operation: str
    kind: dict[str, str] = field(default_factory=dict)
    #: the object the decision is about: the new object, or the old one for DELETE
    subject: dict[str, Any] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.request.get("namespace") or ""

    @property
    def kind_name(self) -> str:
        return self.kind.get("kind") or self.subject.get("kind") or ""


def _mapping(value: Any, what: str, *, optional: bool = True) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise BadReview(f"{what} must be an object")
    return value


def parse_review(body: bytes) -> Review:
    """Check the AdmissionReview's shape; raise BadReview with a one-line reason."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReview(f"body is not JSON: {exc}") from None
    doc = _mapping(doc, "the body", optional=False)
    api_version = doc.get("apiVersion")
    if api_version not in API_VERSIONS or doc.get("kind") != "AdmissionReview":
        raise BadReview("expected kind AdmissionReview with apiVersion admission.k8s.io/v1")
    req = _mapping(doc.get("request"), "request", optional=False)
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid must be a non-empty string")
    operation = req.get("operation")
    if operation not in OPERATIONS:
        raise BadReview(f"request.operation must be one of {', '.join(OPERATIONS)}")
    obj = _mapping(req.get("object"), "request.object")
    old = _mapping(req.get("oldObject"), "request.oldObject")
    for name in ("kind", "resource", "userInfo", "requestKind"):
        _mapping(req.get(name), f"request.{name}")
    for key in ("namespace", "name", "subResource"):
        if req.get(key) is not None and not isinstance(req.get(key), str):
            raise BadReview(f"request.{key} must be a string")
    subject = old if operation == "DELETE" else obj
    if not subject and operation != "CONNECT":
        raise BadReview("request.object is missing" if operation != "DELETE" else "request.oldObject is missing")
    return Review(api_version, uid, req, operation, req.get("kind") or {}, subject)


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [value]
    return []


def roles_from_extra(user_info: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Roles and cluster roles carried in ``userInfo.extra`` (``roles`` / ``clusterRoles``), if any."""
    extra = user_info.get("extra") or {}
    if not isinstance(extra, dict):
        return [], []
    roles = _list(extra.get("roles") or extra.get("verno.io/roles"))
    cluster_roles = _list(extra.get("clusterRoles") or extra.get("clusterroles") or extra.get("verno.io/clusterroles"))
    return roles, cluster_roles


def _request_kind(req: dict[str, Any], subject: dict[str, Any]) -> tuple[str, str, str] | None:
    """The parent kind of a subresource request (for matching ``Deployment/scale``)."""
    if not req.get("subResource"):
        return None
    resource = req.get("resource") or {}
    kind = req.get("kind") or {}
    parent = PARENT_KINDS.get(str(resource.get("resource") or ""))
    if parent is None:
        if kind.get("kind") and kind.get("kind") != subject.get("kind"):
            return None
        parent = kind.get("kind") or subject.get("kind") or ""
    return str(resource.get("group") or ""), str(resource.get("version") or ""), parent


def build_request(review: Review, namespace_labels: dict[str, str] | None) -> Request:
    """The engine's view of the admission request."""
    req = review.request
    user_info = dict(req.get("userInfo") or {})
    roles, cluster_roles = roles_from_extra(user_info)
    obj = req.get("object") or {}
    old = req.get("oldObject") or None
    labels = dict(namespace_labels or {})
    if review.subject.get("kind") == "Namespace" and not labels:
        labels = dict((review.subject.get("metadata") or {}).get("labels") or {})
    if review.operation == "DELETE":
        obj, old = {}, review.subject
    request = Request(obj, old, review.operation, user_info, roles, cluster_roles, labels,
                      str(req.get("subResource") or ""), _request_kind(req, review.subject),
                      bool(req.get("dryRun")))
    ns = review.namespace
    if ns and not request.namespace:  # objects in a create request may leave metadata.namespace empty
        request.namespace = ns
    return request


def review_response(review: Review, allowed: bool, *, message: str = "", code: int = 0,
                    warnings: list[str] | None = None, patch: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The AdmissionReview answering ``review`` (same apiVersion and uid)."""
    response: dict[str, Any] = {"uid": review.uid, "allowed": allowed}
    if not allowed:
        response["status"] = {"status": "Failure", "code": code or 400, "message": message}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch, separators=(",", ":")).encode()).decode()
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": review.api_version, "kind": "AdmissionReview", "response": response}
