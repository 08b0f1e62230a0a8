"""Parameter resources of CEL validations (``paramKind`` / ``paramRef``), collected as Kyverno collects them.

Kyverno's ``validate.cel`` (K: ``pkg/admissionpolicy`` ``CollectParams``) reads the parameter objects a
rule names: a namespaced ``paramKind`` is read in ``paramRef.namespace``, else in the namespace of the
object under admission (a cluster-scoped object then has no params to read: an error); a cluster-scoped
``paramKind`` must not name a namespace. ``paramRef.name`` reads one object (missing: the API server's
``not found``); ``paramRef.selector`` lists every object whose labels match (possibly none). No params
with ``parameterNotFoundAction: Deny`` is an error ("no params found").

Objects come from the cluster when verno runs against one (``Sources.cluster``), else from the objects a
Test lists in ``paramResources`` (``Sources.params``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from verno.core.errors import ContextLoadError, VernoError
from verno.core.loaders.offline_cluster import guess_resource, resource_path, split_api_version
from verno.core.models.match import LabelSelector
from verno.core.models.policy import ParamKind, ParamRef
from verno.core.scope import is_cluster_scoped
from verno.core.selectors import compile_selector
from verno.core.sources import Sources

__all__ = ["ParamError", "collect_params", "label_selector_query"]


class ParamError(VernoError):
    """The parameter resources of a rule cannot be read (Kyverno: ``error in parameterized resource``)."""


def collect_params(sources: Sources, kind: ParamKind, ref: ParamRef, namespace: str) -> list[dict[str, Any]]:
    """The parameter objects for one evaluation; ``namespace`` is the object's under admission ("" when it is
    cluster-scoped)."""
    group, version = split_api_version(kind.api_version)
    if not version or kind.api_version.count("/") > 1:
        raise ParamError("can't parse the parameter resource group version")
    if is_cluster_scoped(kind.kind):
        if ref.namespace:
            raise ParamError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
        params_namespace = ""
    else:
        params_namespace = ref.namespace or namespace
        if not params_namespace:
            raise ParamError("can't use namespaced paramRef to match cluster-scoped resources")
    found: list[dict[str, Any]] = []
    if ref.name:
        obj = _get(sources, kind, group, version, params_namespace, ref.name)
        if obj is None:
            resource = guess_resource(kind.kind)
            raise ParamError(f'{resource}{"." + group if group else ""} "{ref.name}" not found')
        return [obj]
    if ref.selector is not None:
        found = _list(sources, kind, group, version, params_namespace, ref.selector)
    if not found and ref.parameter_not_found_action == "Deny":
        raise ParamError("no params found")
    return found


def cluster_params(sources: Sources, api_version: str, kind: str, namespace: str, name: str = "") -> list[dict[str, Any]]:
    """Objects of a parameter kind as the cluster has them: the one named ``name``, or all in ``namespace``
    (``""``: cluster-wide); empty without a cluster. A read the API server refuses is a :class:`ParamError`."""
    if sources.cluster is None:
        return []
    group, version = split_api_version(api_version)
    path = _path(group, version, kind, namespace, name)
    try:
        answer = sources.cluster.raw_get(path)
    except ContextLoadError as exc:
        if "HTTP 404" in str(exc):
            return []
        raise ParamError(str(exc)) from None
    if not isinstance(answer, dict):
        return []
    if name:
        return [answer]
    return [i for i in answer.get("items") or [] if isinstance(i, dict)]


def _path(group: str, version: str, kind: str, namespace: str, name: str = "") -> str:
    return resource_path(f"{group}/{version}" if group else version, guess_resource(kind), namespace, name)


def _get(sources: Sources, kind: ParamKind, group: str, version: str, namespace: str,
         name: str) -> dict[str, Any] | None:
    if sources.cluster is not None:
        try:
            obj = sources.cluster.raw_get(_path(group, version, kind.kind, namespace, name))
        except ContextLoadError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise ParamError(str(exc)) from None
        return obj if isinstance(obj, dict) else None
    for obj in sources.params:
        if _is(obj, kind) and _meta(obj, "namespace") == namespace and _meta(obj, "name") == name:
            return obj
    return None


def _list(sources: Sources, kind: ParamKind, group: str, version: str, namespace: str,
          selector: LabelSelector) -> list[dict[str, Any]]:
    if sources.cluster is not None:
        query = label_selector_query(selector)
        path = _path(group, version, kind.kind, namespace) + (f"?{urlencode({'labelSelector': query})}"
                                                               if query else "")
        try:
            answer = sources.cluster.raw_get(path)
        except ContextLoadError as exc:
            raise ParamError(str(exc)) from None
        items = answer.get("items") if isinstance(answer, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]
    matches = compile_selector(selector)
    return [obj for obj in sources.params
            if _is(obj, kind) and (not namespace or _meta(obj, "namespace") == namespace)
            and matches(_labels(obj))]


def label_selector_query(selector: LabelSelector) -> str:
    """A label selector in the API server's ``labelSelector`` query syntax."""
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for req in selector.match_expressions or []:
        values = ",".join(req.values or [])
        parts.append({"In": f"{req.key} in ({values})", "NotIn": f"{req.key} notin ({values})",
                      "Exists": req.key, "DoesNotExist": f"!{req.key}"}[req.operator])
    return ",".join(parts)


def _is(obj: Mapping[str, Any], kind: ParamKind) -> bool:
    return obj.get("apiVersion") == kind.api_version and obj.get("kind") == kind.kind


def _meta(obj: Mapping[str, Any], key: str) -> str:
    meta = obj.get("metadata")
    return str(meta.get(key) or "") if isinstance(meta, dict) else ""


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}
