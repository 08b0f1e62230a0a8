"""Which parameter objects a binding hands to its policy.

Two readings of ``paramRef``:

* :func:`offline_params` is Kyverno's CLI (``pkg/admissionpolicy/validate.go``): the params given to the
  run are searched in order; with a ``selector`` every param whose labels match (and whose namespace
  equals ``paramRef.namespace`` when set) is passed as one List object (``{"items": [...]}``); without one
  the first param whose name (and namespace, when set) matches; none: ``params`` is ``null``.
* :func:`admission_params` is the API server's (``policy/generic/policy_dispatcher.go`` ``CollectParams``):
  params of the policy's ``paramKind`` only, looked up in ``paramRef.namespace`` or, for a namespaced
  paramKind, the request's namespace; the policy is evaluated once per param found; none found is
  ``parameterNotFoundAction``: ``Allow`` skips the binding, ``Deny`` is a configuration error.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verno.core.scope import is_cluster_scoped
from verno.core.selectors import compile_selector

from verno.plugins.admissionpolicy.models import ParamKind, ParamRef


class ParamError(Exception):
    """The binding's params cannot be collected (a configuration error, subject to failurePolicy)."""


def _meta(obj: Any) -> dict[str, Any]:
    return (obj.get("metadata") or {}) if isinstance(obj, dict) else {}


def _selected(ref: ParamRef, obj: dict[str, Any]) -> bool:
    meta = _meta(obj)
    if ref.namespace and str(meta.get("namespace") or "") != ref.namespace:
        return False
    if ref.selector is not None:
        return compile_selector(ref.selector)(dict(meta.get("labels") or {}))
    return str(meta.get("name") or "") == ref.name


def offline_params(ref: ParamRef, params: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    if ref.selector is None:
        return next((p for p in params if _selected(ref, p)), None)
    items = [p for p in params if _selected(ref, p)]
    return {"items": items} if items else None


def _of_kind(kind: ParamKind, obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == kind.kind and obj.get("apiVersion") == kind.api_version


def _namespaced(kind: ParamKind, candidates: list[dict[str, Any]]) -> bool:
    """A paramKind is namespaced when its objects carry a namespace (else as the kind is known)."""
    if candidates:
        return any(_meta(p).get("namespace") for p in candidates)
    return not is_cluster_scoped(kind.kind)


def admission_params(kind: ParamKind | None, ref: ParamRef | None, params: Sequence[dict[str, Any]],
                     namespace: str) -> list[dict[str, Any] | None]:
    """The params to evaluate the policy with, one evaluation each (``[None]``: once, without params)."""
    if kind is None or ref is None:
        return [None]
    candidates = [p for p in params if _of_kind(kind, p)]
    if _namespaced(kind, candidates):
        where = ref.namespace or namespace
        if not where:
            raise ParamError("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources")
        candidates = [p for p in candidates if _meta(p).get("namespace") == where]
    elif ref.namespace:
        raise ParamError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
    if ref.name:
        found: list[dict[str, Any] | None] = [p for p in candidates if _meta(p).get("name") == ref.name][:1]
    elif ref.selector is not None:
        select = compile_selector(ref.selector)
        found = [p for p in candidates if select(dict(_meta(p).get("labels") or {}))]
    else:
        raise ParamError("one of name or selector must be provided")
    if not found and ref.parameter_not_found_action == "Deny":
        raise ParamError("no params found for policy binding with `Deny` parameterNotFoundAction")
    return found
