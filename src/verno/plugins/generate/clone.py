"""generate ``clone`` and ``cloneList``: copy existing resources, without their server-set fields.

Offline the sources are ``rc.sources.clone_sources`` (a Test's ``cloneSourceResource`` for this
policy and rule), then ``rc.sources.cluster_resources``; the trigger itself is visible too, as it is in
Kyverno's fake client.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

from verno.core.selectors import compile_selector
from verno.plugins.generate.labels import add_source_labels
from verno.plugins.generate.pattern import GenerateError, Target

#: metadata a clone never copies (Kyverno's manageClone)
SERVER_FIELDS = ("uid", "selfLink", "creationTimestamp", "managedFields", "resourceVersion")


def source_pool(rc: Any) -> list[dict[str, Any]]:
    """Every object a clone may read, most specific first."""
    sources = rc.sources
    own = getattr(sources, "clone_sources", {}) or {}
    pool: list[dict[str, Any]] = list(own.get(f"{rc.policy.key}/{rc.rule.base_name}", ()))
    pool.extend(sources.cluster_resources or ())
    if rc.resource:
        pool.append(rc.resource)
    return pool


def split_kind(text: str) -> tuple[str, str]:
    """``v1/Secret`` -> (``v1``, ``Secret``); ``apps/v1/Deployment`` -> (``apps/v1``, ``Deployment``)."""
    api_version, _, kind = text.rpartition("/")
    return api_version, kind


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _same_kind(obj: dict[str, Any], api_version: str, kind: str) -> bool:
    return obj.get("kind") == kind and (not api_version or obj.get("apiVersion") == api_version)


def find(pool: Iterable[dict[str, Any]], api_version: str, kind: str, namespace: str,
         name: str) -> dict[str, Any] | None:
    for obj in pool:
        meta = _meta(obj)
        if _same_kind(obj, api_version, kind) and meta.get("name") == name and \
                (meta.get("namespace") or "") == (namespace or ""):
            return obj
    return None


def select(pool: Iterable[dict[str, Any]], api_version: str, kind: str, namespace: str,
           selector: Any) -> list[dict[str, Any]]:
    """Objects of a kind in a namespace whose labels match a selector (one per namespace/name)."""
    matches = compile_selector(selector) if selector else None
    seen: set[tuple[str, str]] = set()
    out = []
    for obj in pool:
        meta = _meta(obj)
        key = (meta.get("namespace") or "", meta.get("name") or "")
        if not _same_kind(obj, api_version, kind) or key in seen:
            continue
        if namespace and key[0] != namespace:
            continue
        if matches is not None and not matches(meta.get("labels") or {}):
            continue
        seen.add(key)
        out.append(obj)
    return out


def copy_source(source: dict[str, Any], target_namespace: str) -> dict[str, Any]:
    """A copy of ``source`` with source labels and without server-set metadata."""
    obj = copy.deepcopy(source)
    add_source_labels(obj)
    meta = obj.setdefault("metadata", {})
    if (meta.get("namespace") or "") != (target_namespace or ""):
        meta.pop("ownerReferences", None)
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    return obj


def clone_one(rc: Any, target: Target, clone: dict[str, Any]) -> dict[str, Any] | None:
    """``clone``: the source of the target's kind at clone.namespace/clone.name; None for a self-clone."""
    ns, name = str(clone.get("namespace") or ""), str(clone.get("name") or "")
    if ns == target.namespace and name == target.name:
        return None  # Kyverno skips a resource cloned onto itself
    source = find(source_pool(rc), target.api_version, target.kind, ns, name)
    if source is None:
        where = "/".join(p for p in (target.api_version, target.kind, ns, name) if p)
        raise GenerateError(f"source resource {where} not found")
    return copy_source(source, target.namespace)


def clone_list(rc: Any, target_namespace: str, listing: dict[str, Any]) -> list[tuple[Target, dict[str, Any]]]:
    """``cloneList``: every resource of ``kinds`` in ``namespace`` matching ``selector``."""
    pool = source_pool(rc)
    source_ns = str(listing.get("namespace") or "")
    out = []
    for text in listing.get("kinds") or []:
        api_version, kind = split_kind(str(text))
        for source in select(pool, api_version, kind, source_ns, listing.get("selector")):
            meta = _meta(source)
            target = Target(source.get("apiVersion", ""), kind, target_namespace, meta.get("name", ""))
            if (meta.get("namespace") or "") == target_namespace:
                continue  # self-clone
            out.append((target, copy_source(source, target_namespace)))
    return out
