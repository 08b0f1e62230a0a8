"""The admission inputs of a CEL evaluation: ``object``, ``oldObject``, ``request`` and ``namespaceObject``.

Kubernetes declares ``request`` and ``namespaceObject`` as typed objects, so an unset field reads as its
zero value (``request.userInfo.groups`` is ``[]`` for a request without groups); verno carries them as maps
and fills the zero values in here. ``object`` and ``oldObject`` are the objects as given (``null`` on
CREATE and DELETE respectively).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verno.core.matchresources import request_resource
from verno.core.request import Request

__all__ = ["admission_inputs", "authorizer_input", "measured_admission_inputs", "namespace_object", "request_object"]


def request_object(request: Request) -> dict[str, Any]:
    """The ``request`` variable (an AdmissionRequest, as Kubernetes' CEL admission library declares it)."""
    group, version, resource, sub = request_resource(request)
    if request.request_kind is not None:
        kind = request.request_kind[2]
    else:
        kind = request.kind
    user = request.user_info or {}
    user_info = {
        "username": str(user.get("username") or ""),
        "uid": str(user.get("uid") or ""),
        "groups": [str(g) for g in user.get("groups") or []],
        "extra": {str(k): [str(x) for x in (v or [])] for k, v in (user.get("extra") or {}).items()},
    }
    obj = request.resource or request.old_resource or {}
    name = str((obj.get("metadata") or {}).get("name") or "")
    return {
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "subResource": sub,
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "requestSubResource": sub,
        "name": name,
        "namespace": request.namespace,
        "operation": request.operation,
        "userInfo": user_info,
        "dryRun": bool(request.dry_run),
        "options": None,
        "object": _new(request),
        "oldObject": _old(request),
    }


def authorizer_input(request: Request) -> dict[str, Any]:
    """The ``authorizer`` variable (ValidatingAdmissionPolicy, ``validate.cel``): checks asked as the
    request's user, ``authorizer.requestResource`` on the request's own resource."""
    from verno.core.cel.libs.k8s_authz import authorizer_value

    group, _, resource, sub = request_resource(request)
    obj = request.resource or request.old_resource or {}
    name = str((obj.get("metadata") or {}).get("name") or "")
    return authorizer_value(request.user_info, (group, resource, sub, request.namespace, name))


def namespace_object(namespace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``namespaceObject`` variable: the Namespace with its typed fields' zero values filled in."""
    if namespace is None:
        return None
    meta = dict(namespace.get("metadata") or {})
    spec = dict(namespace.get("spec") or {})
    status = dict(namespace.get("status") or {})
    filled_meta = {
        "name": str(meta.get("name") or ""),
        "generateName": str(meta.get("generateName") or ""),
        "namespace": str(meta.get("namespace") or ""),
        "labels": dict(meta.get("labels") or {}),
        "annotations": dict(meta.get("annotations") or {}),
        "UID": str(meta.get("uid") or ""),
        "creationTimestamp": meta.get("creationTimestamp"),
        "deletionGracePeriodSeconds": meta.get("deletionGracePeriodSeconds"),
        "deletionTimestamp": meta.get("deletionTimestamp"),
        "generation": int(meta.get("generation") or 0),
        "resourceVersion": str(meta.get("resourceVersion") or ""),
        "finalizers": list(meta.get("finalizers") or []),
    }
    return {
        "metadata": filled_meta,
        "spec": {"finalizers": list(spec.get("finalizers") or [])},
        "status": {"conditions": list(status.get("conditions") or []), "phase": str(status.get("phase") or "")},
    }


def _new(request: Request) -> dict[str, Any] | None:
    return None if request.operation == "DELETE" else (request.resource or None)


def _old(request: Request) -> dict[str, Any] | None:
    if request.operation == "CREATE":
        return None
    return request.old_resource or None


def admission_inputs(request: Request, namespace: Mapping[str, Any] | None) -> dict[str, Any]:
    """``object``, ``oldObject``, ``request`` and ``namespaceObject`` for one admission request.

    ``namespace`` is the Namespace object of the request's namespace when known (None for a cluster-scoped
    resource, where ``namespaceObject`` is ``null``).
    """
    return {
        "object": _new(request),
        "oldObject": _old(request),
        "request": request_object(request),
        "namespaceObject": namespace_object(namespace),
    }


def measured_admission_inputs(request: Request, namespace: Mapping[str, Any] | None) -> tuple[dict[str, Any], Any]:
    """:func:`admission_inputs` and the bounds on their sizes (:class:`verno.core.cel.cost.Sizes`), built
    once per request and namespace object and shared by every policy evaluating it (the request's memo is
    rebuilt when a mutation changes the resource). Treat both as read-only. (A kind that can share one
    runtime activation across its policies uses :class:`verno.core.cel.program.SharedInputs` instead.)"""
    from verno.core.cel.cost import measure, noted_measures

    key = ("cel.admission", id(namespace) if namespace is not None else None)
    found = request.cache.get(key)
    if found is None or found[0] is not namespace:
        inputs = admission_inputs(request, namespace)
        found = (namespace, inputs, measure(*inputs.values(), known=noted_measures(request.cache))[0])
        request.cache[key] = found
    return found[1], found[2]
