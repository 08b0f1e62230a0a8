"""The cluster a Test describes offline, answering ``apiCall`` and ``configMap`` reads as the API server would.

Kyverno's CLI builds a fake dynamic client from a Test's ``clusterResources`` (with its resources and
target resources) and sends ``apiCall.urlPath`` GETs to it; :class:`OfflineCluster` is that client.
Objects are stored under the resource name Kubernetes guesses from their kind (``ComputeClass`` ->
``computeclasses``, K: ``meta.UnsafeGuessKindToResource``) unless a CRD names it. A GET by name returns
the object or the API server's ``not found``; a GET of a collection returns ``{apiVersion, kind: <Kind>List,
metadata, items}``, narrowed by ``labelSelector`` and ``fieldSelector`` (``metadata.name``,
``metadata.namespace``) as the API server narrows it. Other requests (POST, subresources, other query
parameters) are errors that say what to give instead.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from verno.core.errors import ContextLoadError
from verno.core.selectors import compile_selector

#: (group, version, resource) as in an API path
GVR = tuple[str, str, str]

_UNPLURALIZED = ("endpoints",)


def guess_resource(kind: str) -> str:
    """The resource name Kubernetes guesses from a kind (K: apimachinery ``UnsafeGuessKindToResource``)."""
    singular = kind.lower()
    if not singular or singular.endswith(_UNPLURALIZED):
        return singular
    if singular.endswith("s"):
        return singular + "es"
    if singular.endswith("y"):
        return singular[:-1] + "ies"
    return singular + "s"


def resource_path(api_version: str, resource: str, namespace: str, name: str = "") -> str:
    """The API path of a collection or an object (``v1`` is the core group)."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{quote(resource, safe='')}"
    if name:
        base += f"/{quote(name, safe='')}"
    return base


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class OfflineCluster:
    """Objects given offline, read through Kubernetes API paths (GET only)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], crds: Iterable[Mapping[str, Any]] = ()):
        #: (group, kind) -> resource name, from CRDs
        self._names: dict[tuple[str, str], str] = {}
        for crd in crds:
            spec = crd.get("spec") or {}
            names = spec.get("names") or {}
            if spec.get("group") is not None and names.get("kind") and names.get("plural"):
                self._names[(str(spec["group"]), str(names["kind"]))] = str(names["plural"])
        self._kinds: dict[GVR, str] = {}
        self._objects: dict[GVR, dict[tuple[str, str], dict[str, Any]]] = {}
        for obj in objects:
            self._add(obj)

    def _add(self, obj: Mapping[str, Any]) -> None:
        kind = str(obj.get("kind") or "")
        group, version = split_api_version(str(obj.get("apiVersion") or ""))
        if not kind or not version:
            return
        gvr = (group, version, self._names.get((group, kind)) or guess_resource(kind))
        self._kinds.setdefault(gvr, kind)
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        # the first object given under a name stays, as the resources under test come first
        self._objects.setdefault(gvr, {}).setdefault(key, dict(obj))

    # -- what loaders call -----------------------------------------------------------------------------
    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(("", "v1", "configmaps"), namespace, name)

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(("", "v1", "secrets"), namespace, name)

    def raw_get(self, url_path: str) -> Any:
        try:
            return self._answer(url_path)
        except _Refused as exc:
            raise ContextLoadError(f"failed to GET resource with raw url: {url_path}: {exc}") from None

    def raw_post(self, url_path: str, body: Any) -> Any:
        raise ContextLoadError(f"failed to POST resource with raw url: {url_path}: method not supported offline "
                               f"(the clusterResources answer GET only); mock the call in the Test's "
                               f"apiCallResponses (urlPath: {url_path}, method: POST)")

    # -- answering -------------------------------------------------------------------------------------
    def _get(self, gvr: GVR, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self._objects.get(gvr, {}).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def _answer(self, url_path: str) -> Any:
        parts = urlsplit(url_path)
        gvr, namespace, name = _route(parts.path)
        query = _query(parts.query)
        if name:
            if query:
                raise _Refused(f"query parameters are not supported on a GET by name ({', '.join(sorted(query))})")
            obj = self._get(gvr, namespace, name)
            if obj is None:
                group, _, resource = gvr
                raise _Refused(f'{resource}{"." + group if group else ""} "{name}" not found '
                               "(not among the Test's clusterResources, resources or targetResources)")
            return obj
        kind = self._kinds.get(gvr)
        if kind is None:
            raise _Refused("the server could not find the requested resource (no object of this resource type "
                           "is among the Test's clusterResources, resources or targetResources)")
        keep = _filters(query)
        items = [copy.deepcopy(obj) for (ns, _), obj in sorted(self._objects[gvr].items())
                 if (not namespace or ns == namespace) and keep(obj)]
        group, version, _ = gvr
        return {"apiVersion": f"{group}/{version}" if group else version, "kind": f"{kind}List",
                "metadata": {"resourceVersion": ""}, "items": items}


class _Refused(Exception):
    """The API server's answer to a request it cannot serve."""


def _route(path: str) -> tuple[GVR, str, str]:
    """``/api/v1/namespaces/ns/pods/name`` -> ((group, version, resource), namespace, name)."""
    segments = [s for s in path.split("/") if s]
    if segments[:1] == ["api"] and len(segments) >= 2:
        group, version, rest = "", segments[1], segments[2:]
    elif segments[:1] == ["apis"] and len(segments) >= 3:
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        raise _Refused("not a Kubernetes API path (/api/<version>/... or /apis/<group>/<version>/...)")
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest:
        raise _Refused("the path names no resource")
    if len(rest) > 2:
        raise _Refused(f"subresource {'/'.join(rest[2:])!r} is not supported offline")
    return (group, version, rest[0]), namespace, rest[1] if len(rest) == 2 else ""


_SUPPORTED_QUERY = ("labelSelector", "fieldSelector")


def _query(text: str) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key not in _SUPPORTED_QUERY:
            raise _Refused(f"query parameter {key!r} is not supported offline (only {', '.join(_SUPPORTED_QUERY)})")
        query[key] = value
    return query


def _filters(query: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bool]:
    labels_ok = compile_selector(_label_selector(query.get("labelSelector", "")))
    fields_ok = _field_selector(query.get("fieldSelector", ""))

    def keep(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        return labels_ok(labels) and fields_ok(meta)

    return keep


#: one requirement, stripped and without a leading ``!``: ``key``, ``key=v``, ``key!=v``, ``key in (a,b)``
_REQUIREMENT = re.compile(r"([^\s!=,()]+)(?:\s*(==|=|!=)\s*([^\s,()]*)|\s+(in|notin)\s*\(([^)]*)\))?")


def _label_selector(text: str) -> dict[str, Any]:
    """A ``labelSelector`` query (``a=b,c!=d,e in (x,y),f,!g``) as a ``matchExpressions`` selector."""
    expressions: list[dict[str, Any]] = []
    for requirement in _split_requirements(text):
        requirement = requirement.strip()
        negated = requirement.startswith("!")
        m = _REQUIREMENT.fullmatch(requirement[1:].lstrip() if negated else requirement)
        if m is None or (negated and m.group(2, 4) != (None, None)):
            raise _Refused(f"invalid labelSelector requirement {requirement!r}")
        key, op, value, set_op, values = m.groups()
        if negated:
            expressions.append({"key": key, "operator": "DoesNotExist"})
        elif op:
            expressions.append({"key": key, "operator": "NotIn" if op == "!=" else "In", "values": [value]})
        elif set_op:
            members = [v.strip() for v in values.split(",") if v.strip()]
            if not members:
                raise _Refused(f"invalid labelSelector requirement {requirement!r}: empty set")
            expressions.append({"key": key, "operator": "In" if set_op == "in" else "NotIn", "values": members})
        else:
            expressions.append({"key": key, "operator": "Exists"})
    return {"matchExpressions": expressions}


def _split_requirements(text: str) -> list[str]:
    """Split on the commas that are not inside a ``( )`` value set."""
    out, current, depth = [], [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [r for r in out if r.strip()]


_FIELDS = {"metadata.name": "name", "metadata.namespace": "namespace"}
_FIELD = re.compile(r"^\s*([^\s!=]+)\s*(==|=|!=)\s*(\S*)\s*$")


def _field_selector(text: str) -> Callable[[Mapping[str, Any]], bool]:
    checks: list[tuple[str, bool, str]] = []
    for requirement in filter(str.strip, text.split(",")):
        m = _FIELD.match(requirement)
        if m is None:
            raise _Refused(f"invalid fieldSelector requirement {requirement.strip()!r}")
        field, op, value = m.groups()
        if field not in _FIELDS:
            raise _Refused(f"fieldSelector on {field!r} is not supported offline (only {', '.join(_FIELDS)})")
        checks.append((_FIELDS[field], op != "!=", value))

    def keep(meta: Mapping[str, Any]) -> bool:
        return all((str(meta.get(attr) or "") == value) == equal for attr, equal, value in checks)

    return keep
