"""Kubernetes' authz CEL library (``k8s.authz``, K:`staging/src/k8s.io/apiserver/pkg/cel/library/authz.go`):
the ``authorizer`` variable of ValidatingAdmissionPolicy and ``validate.cel`` expressions.

* ``authorizer.path(string)`` -> PathCheck; ``authorizer.group(string)`` -> GroupCheck;
  ``authorizer.serviceAccount(namespace, name)`` -> the authorizer of that service account;
  ``authorizer.requestResource`` -> a ResourceCheck of the request's own group, resource, subresource,
  namespace and name;
* ``GroupCheck.resource(string)`` -> ResourceCheck; ``ResourceCheck.subresource(s)``, ``.namespace(s)``,
  ``.name(s)``, ``.fieldSelector(s)``, ``.labelSelector(s)`` -> ResourceCheck;
* ``PathCheck.check(verb)``, ``ResourceCheck.check(verb)`` -> Decision; ``Decision.allowed()``,
  ``.reason()``, ``.errored()``, ``.error()``.

The question goes to the evaluation's bound :class:`~verno.core.cel.datasources.CelData` (its ``authorize``):
the API server's SubjectAccessReview when verno runs against a cluster, Kubernetes' RBAC over the RBAC
objects a Test gives (its cluster resources or Context file) offline.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verno.core.cel.datasources import current
from verno.core.cel.library import FunctionError, Library
from verno.core.cel.opaque import type_of, unwrap, wrap
from verno.core.rbac import Attributes, Decision, service_account_user

__all__ = ["authorizer_value", "libraries"]

AUTHORIZER = "kubernetes.authorization.Authorizer"
PATH_CHECK = "kubernetes.authorization.PathCheck"
GROUP_CHECK = "kubernetes.authorization.GroupCheck"
RESOURCE_CHECK = "kubernetes.authorization.ResourceCheck"
DECISION = "kubernetes.authorization.Decision"
D = "dyn"
S = "string"


def _user(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"user": payload["user"], "groups": list(payload["groups"]), "uid": payload.get("uid", ""),
            "extra": dict(payload.get("extra") or {})}


def authorizer_value(user_info: Mapping[str, Any] | None, request_resource: tuple[str, str, str, str, str]
                     ) -> dict[str, Any]:
    """The ``authorizer`` variable for a request made by ``user_info`` (``username``, ``groups``, ``uid``,
    ``extra``) on ``request_resource`` (group, resource, subresource, namespace, name)."""
    user_info = user_info or {}
    payload = {"user": str(user_info.get("username") or ""),
               "groups": [str(g) for g in user_info.get("groups") or []],
               "uid": str(user_info.get("uid") or ""),
               "extra": {str(k): [str(x) for x in v or []] for k, v in (user_info.get("extra") or {}).items()}}
    group, resource, subresource, namespace, name = request_resource
    value = wrap(AUTHORIZER, payload)
    value["requestResource"] = wrap(RESOURCE_CHECK, {**_user(payload), "group": group, "resource": resource,
                                                     "subresource": subresource, "namespace": namespace,
                                                     "name": name})
    return value


def _service_account(authorizer: object, namespace: str, name: str) -> dict[str, Any]:
    unwrap(authorizer, AUTHORIZER, "serviceAccount")
    user, groups = service_account_user(namespace, name)
    return authorizer_value({"username": user, "groups": list(groups)}, ("", "", "", "", ""))


def _path(authorizer: object, path: str) -> dict[str, Any]:
    payload = unwrap(authorizer, AUTHORIZER, "path")
    return wrap(PATH_CHECK, {**_user(payload), "path": path})  # type: ignore[arg-type]


def _group(authorizer: object, group: str) -> dict[str, Any]:
    payload = unwrap(authorizer, AUTHORIZER, "group")
    return wrap(GROUP_CHECK, {**_user(payload), "group": group})  # type: ignore[arg-type]


def _resource(check: object, resource: str) -> dict[str, Any]:
    payload = unwrap(check, GROUP_CHECK, "resource")
    return wrap(RESOURCE_CHECK, {**payload, "resource": resource, "subresource": "",  # type: ignore[dict-item]
                                 "namespace": "", "name": ""})


def _set(field: str):
    def setter(check: object, value: str) -> dict[str, Any]:
        payload = unwrap(check, RESOURCE_CHECK, field)
        return wrap(RESOURCE_CHECK, {**payload, field: value})  # type: ignore[dict-item]
    return setter


def _attributes(payload: Mapping[str, Any], verb: str) -> Attributes:
    return Attributes(user=payload["user"], groups=tuple(payload["groups"]), verb=verb,
                      group=payload.get("group", ""), resource=payload.get("resource", ""),
                      subresource=payload.get("subresource", ""), namespace=payload.get("namespace", ""),
                      name=payload.get("name", ""), path=payload.get("path", ""))


def _check(check: object, verb: str) -> dict[str, Any]:
    kind = type_of(check)
    if kind not in (PATH_CHECK, RESOURCE_CHECK):
        unwrap(check, RESOURCE_CHECK, "check")  # the "no such overload" error
    payload: Mapping[str, Any] = check["v"]  # type: ignore[index]
    if kind == PATH_CHECK and not verb:
        raise FunctionError("check: a path check needs an HTTP verb (get, post, ...)")
    attrs = _attributes(payload, verb)
    extra = {k: payload[k] for k in ("uid", "extra", "fieldSelector", "labelSelector") if payload.get(k)}
    data = current("authorizer.check").data
    authorize = getattr(data, "authorize", None)
    if authorize is None:
        decision = Decision(False, error="this evaluation's data source has no authorizer")
    else:
        try:
            decision = authorize(attrs, extra)
        except FunctionError as exc:
            decision = Decision(False, error=str(exc))
    return wrap(DECISION, {"allowed": decision.allowed, "reason": decision.reason, "error": decision.error})


def _decision(field: str):
    def read(decision: object) -> object:
        payload = unwrap(decision, DECISION, field)
        if field == "errored":
            return bool(payload["error"])  # type: ignore[index]
        return payload[field]  # type: ignore[index]
    return read


def libraries() -> list[Library]:
    lib = Library("k8s.authz")
    lib.fn("path", [D, S], D, _path, member=True)
    lib.fn("group", [D, S], D, _group, member=True)
    lib.fn("serviceAccount", [D, S, S], D, _service_account, member=True)
    lib.fn("resource", [D, S], D, _resource, member=True)
    for field in ("subresource", "namespace", "name", "fieldSelector", "labelSelector"):
        lib.fn(field, [D, S], D, _set(field), member=True)
    lib.fn("check", [D, S], D, _check, member=True)
    lib.fn("allowed", [D], "bool", _decision("allowed"), member=True)
    lib.fn("reason", [D], S, _decision("reason"), member=True)
    lib.fn("errored", [D], "bool", _decision("errored"), member=True)
    lib.fn("error", [D], S, _decision("error"), member=True)
    return [lib]

