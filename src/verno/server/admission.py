"""AdmissionReview (admission.k8s.io/v1) in, ``verno.core.request.Request`` out, AdmissionReview back."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from verno.core.objectshape import object_problem, type_name
from verno.core.request import Request
from verno.core.yamlio import MAX_DEPTH, json_too_deep

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
    """The body is not an AdmissionReview verno can answer.

    ``uid`` (and ``api_version``) are set when the body was readable up to the request's uid: the answer
    is then an AdmissionReview for that uid; otherwise HTTP 400.
    """

    def __init__(self, message: str, uid: str | None = None, api_version: str = "admission.k8s.io/v1"):
        super().__init__(message)
        self.uid, self.api_version = uid, api_version


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


def load_body(body: bytes) -> Any:
    """The JSON document of a request body, nested at most MAX_DEPTH deep (as ``verno apply`` reads files).

    The depth is checked on the text before anything is built, with the CLI's own check (only when the
    body has enough brackets to exceed it).
    """
    too_deep = f"body is not an AdmissionReview: JSON nested more than {MAX_DEPTH} levels deep"
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and json_too_deep(body.decode("utf-8", "replace")):
        raise BadReview(too_deep)
    try:
        return json.loads(body)
    except RecursionError:
        raise BadReview(too_deep) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReview(f"body is not JSON: {exc}") from None


def _problem(req: dict[str, Any]) -> str | None:
    """The first field of the request whose type the API server would never send, or None."""
    for name in ("kind", "resource", "userInfo", "requestKind", "requestResource"):
        value = req.get(name)
        if value is not None and not isinstance(value, dict):
            return f"request.{name} must be an object, got {type_name(value)}"
    for name in ("kind", "requestKind"):
        for key in ("group", "version", "kind"):
            value = (req.get(name) or {}).get(key)
            if value is not None and not isinstance(value, str):
                return f"request.{name}.{key} must be a string, got {type_name(value)}"
    for name in ("resource", "requestResource"):
        for key in ("group", "version", "resource"):
            value = (req.get(name) or {}).get(key)
            if value is not None and not isinstance(value, str):
                return f"request.{name}.{key} must be a string, got {type_name(value)}"
    for key in ("namespace", "name", "subResource", "requestSubResource"):
        if req.get(key) is not None and not isinstance(req.get(key), str):
            return f"request.{key} must be a string, got {type_name(req.get(key))}"
    if req.get("dryRun") is not None and not isinstance(req.get("dryRun"), bool):
        return f"request.dryRun must be a boolean, got {type_name(req.get('dryRun'))}"
    user = req.get("userInfo") or {}
    for key in ("username", "uid"):
        if user.get(key) is not None and not isinstance(user.get(key), str):
            return f"request.userInfo.{key} must be a string, got {type_name(user.get(key))}"
    groups = user.get("groups")
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)):
        return "request.userInfo.groups must be a list of strings"
    extra = user.get("extra")
    if extra is not None:
        if not isinstance(extra, dict) or not all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in extra.values()):
            return "request.userInfo.extra must map keys to lists of strings"
    for name in ("object", "oldObject"):
        value = req.get(name)
        if value is None:
            continue
        if not isinstance(value, dict):
            return f"request.{name} must be an object, got {type_name(value)}"
        found = object_problem(value, kind_required=False)
        if found is not None:
            where, message = found
            return f"request.{name}.{where} {message}" if message.startswith("must") else \
                f"request.{name}.{where}: {message}"
    return None


def parse_review(body: bytes) -> Review:
    """Check the AdmissionReview's shape; raise BadReview with a one-line reason."""
    doc = load_body(body)
    if not isinstance(doc, dict):
        raise BadReview("the body must be an object (an AdmissionReview)")
    api_version = doc.get("apiVersion")
    req = doc.get("request")
    uid = req.get("uid") if isinstance(req, dict) else None
    if not isinstance(uid, str) or not uid:
        if api_version not in API_VERSIONS or doc.get("kind") != "AdmissionReview":
            raise BadReview("expected kind AdmissionReview with apiVersion admission.k8s.io/v1")
        if not isinstance(req, dict):
            raise BadReview("request must be an object")
        raise BadReview("request.uid must be a non-empty string")
    answer_version = api_version if api_version in API_VERSIONS else "admission.k8s.io/v1"
    if api_version not in API_VERSIONS or doc.get("kind") != "AdmissionReview":
        raise BadReview("expected kind AdmissionReview with apiVersion admission.k8s.io/v1", uid, answer_version)
    assert isinstance(req, dict)
    operation = req.get("operation")
    if operation not in OPERATIONS:
        raise BadReview(f"request.operation must be one of {', '.join(OPERATIONS)}", uid, api_version)
    problem = _problem(req)
    if problem is not None:
        raise BadReview(problem, uid, api_version)
    obj = req.get("object") or {}
    old = req.get("oldObject") or {}
    subject = old if operation == "DELETE" else obj
    if not subject and operation != "CONNECT":
        raise BadReview("request.object is missing" if operation != "DELETE" else "request.oldObject is missing",
                        uid, api_version)
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
