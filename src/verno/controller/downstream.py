"""Downstream objects (what generate rules make): written, found by their labels, deleted.

Writes are idempotent: a create that finds the object made meanwhile goes on as an update; an update
carries the live ``resourceVersion`` and is tried again on a conflict. A 403 becomes ``PermissionDenied``
naming the verb, kind and namespace.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable

from verno.controller.kube import APIError, Kube, Resource

MANAGED_BY = "app.kubernetes.io/managed-by"
PREFIX = "generate.kyverno.io/"
POLICY_NAME, POLICY_NAMESPACE, RULE_NAME = PREFIX + "policy-name", PREFIX + "policy-namespace", PREFIX + "rule-name"
TRIGGER_GROUP, TRIGGER_VERSION, TRIGGER_KIND = PREFIX + "trigger-group", PREFIX + "trigger-version", PREFIX + "trigger-kind"
TRIGGER_NAMESPACE, TRIGGER_NAME, TRIGGER_UID = PREFIX + "trigger-namespace", PREFIX + "trigger-name", PREFIX + "trigger-uid"
SOURCE_GROUP, SOURCE_VERSION, SOURCE_KIND = PREFIX + "source-group", PREFIX + "source-version", PREFIX + "source-kind"
SOURCE_NAMESPACE, SOURCE_NAME = PREFIX + "source-namespace", PREFIX + "source-name"
CLONE_SOURCE = PREFIX + "clone-source"
#: selects every object verno (or Kyverno) generated
DOWNSTREAM_SELECTOR = f"{MANAGED_BY}=kyverno,{POLICY_NAME}"
CONFLICT_RETRIES = 5
#: the field manager of server-side applied downstream objects (``useServerSideApply``), as Kyverno's
FIELD_MANAGER = "kyverno-generate"


class PermissionDenied(Exception):
    def __init__(self, verb: str, kind: str, namespace: str, message: str):
        where = f" in namespace {namespace}" if namespace else " at the cluster scope"
        super().__init__(f"verno lacks permission to {verb} {kind}{where}: {message}")
        self.verb, self.kind, self.namespace = verb, kind, namespace


@dataclass
class Written:
    action: str  # created | updated | unchanged | skipped
    obj: dict[str, Any]
    #: the object existed and verno had not generated it (taken over with synchronize)
    taken_over: bool = False


def _call(verb: str, kind: str, namespace: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except APIError as exc:
        if exc.code == 403:
            raise PermissionDenied(verb, kind, namespace, exc.message) from None
        raise


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def same(desired: dict[str, Any], live: dict[str, Any], server_side: bool = False) -> bool:
    """Whether ``live`` already is ``desired``: every field outside metadata and status equal (none extra;
    with ``server_side``, fields only ``live`` has are another manager's and do not count), and desired
    labels and annotations present with their values."""
    skip = ("metadata", "status", "apiVersion", "kind")
    want = {k: v for k, v in desired.items() if k not in skip}
    have = {k: v for k, v in live.items() if k not in skip}
    if (not _contains(have, want)) if server_side else want != have:
        return False
    for part in ("labels", "annotations"):
        want, have = _meta(desired).get(part) or {}, _meta(live).get(part) or {}
        if any(have.get(k) != v for k, v in want.items()):
            return False
    return True


def write(kube: Kube, desired: dict[str, Any], synchronize: bool, server_side: bool = False) -> Written:
    """Create ``desired`` when absent; with ``synchronize``, bring a live object that differs to it. With
    ``server_side`` (``useServerSideApply``) both are a server-side apply as ``kyverno-generate`` with
    ``force``, so fields other managers own (finalizers, defaulted values, extra list entries) stay;
    otherwise a POST, and a PUT at the live resourceVersion."""
    res = kube.resource(str(desired.get("apiVersion") or ""), str(desired.get("kind") or ""))
    meta = _meta(desired)
    ns = str(meta.get("namespace") or "") if res.namespaced else ""
    name = str(meta.get("name") or "")
    kind = res.kind
    for _ in range(CONFLICT_RETRIES):
        live = _call("get", kind, ns, kube.get, res, ns, name)
        if live is None:
            if server_side:
                return Written("created", _call("patch", kind, ns, kube.apply, res, ns, desired, FIELD_MANAGER))
            try:
                return Written("created", _call("create", kind, ns, kube.create, res, ns, desired))
            except APIError as exc:
                if exc.code != 409:  # AlreadyExists: made meanwhile, look again
                    raise
                continue
        if not synchronize:
            return Written("skipped", live)
        ours = (_meta(live).get("labels") or {}).get(MANAGED_BY) == "kyverno"
        if same(desired, live, server_side):
            return Written("unchanged", live, taken_over=not ours)
        if server_side:
            return Written("updated", _call("patch", kind, ns, kube.apply, res, ns, desired, FIELD_MANAGER),
                           taken_over=not ours)
        body = copy.deepcopy(desired)
        body_meta = body.setdefault("metadata", {})
        body_meta["resourceVersion"] = _meta(live).get("resourceVersion")
        for key in ("finalizers", "ownerReferences"):
            if key in _meta(live) and key not in body_meta:
                body_meta[key] = _meta(live)[key]
        try:
            return Written("updated", _call("update", kind, ns, kube.replace, res, ns, body), taken_over=not ours)
        except APIError as exc:
            if exc.code not in (404, 409):
                raise
    raise APIError(409, "Conflict", f"{kind} {ns}/{name} kept changing while being written")


def label_clone_source(kube: Kube, generated: dict[str, Any]) -> dict[str, Any] | None:
    """Mark the clone source of a cloned object (``generate.kyverno.io/clone-source: ""``); the source as
    written, or None when nothing was written."""
    labels = _meta(generated).get("labels") or {}
    if not labels.get(SOURCE_KIND):
        return None
    group, version = labels.get(SOURCE_GROUP, ""), labels.get(SOURCE_VERSION, "")
    api_version = f"{group}/{version}" if group else version
    res = kube.resource(api_version, labels[SOURCE_KIND])
    ns = labels.get(SOURCE_NAMESPACE, "")
    name = labels.get(SOURCE_NAME, "") or _meta(generated).get("name", "")
    for _ in range(CONFLICT_RETRIES):
        source = kube.get(res, ns, name)
        if source is None or CLONE_SOURCE in (_meta(source).get("labels") or {}):
            return None
        source.setdefault("metadata", {}).setdefault("labels", {})[CLONE_SOURCE] = ""
        try:
            return _call("update", res.kind, ns, kube.replace, res, ns, source)
        except APIError as exc:
            if exc.code != 409:
                raise
    return None


def _contains(have: Any, want: Any) -> bool:
    """Whether ``have`` holds everything ``want`` sets (maps: key by key; anything else: equal)."""
    if isinstance(want, dict) and isinstance(have, dict):
        return all(k in have and _contains(have[k], v) for k, v in want.items())
    return bool(have == want)


def trigger_alive(kube: Kube, ref: Any) -> bool:
    """Whether the trigger ``ref`` (a TriggerRef) still exists (same uid, not being deleted); True when that
    cannot be told (the request decides)."""
    try:
        res = kube.resource(ref.api_version, ref.kind)
        live = kube.get(res, ref.namespace if res.namespaced else "", ref.name)
    except APIError:
        return True
    meta = _meta(live) if live is not None else {}
    return live is not None and (not ref.uid or meta.get("uid") == ref.uid) and not meta.get("deletionTimestamp")


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def find(kube: Kube, kinds: Iterable[tuple[str, str]], labels: dict[str, str]) -> list[tuple[Resource, dict[str, Any]]]:
    """Objects of ``kinds`` ((apiVersion, kind) pairs) carrying ``labels``."""
    out = []
    for api_version, kind in kinds:
        try:
            res = kube.resource(api_version, kind)
        except APIError as exc:
            if exc.not_found:
                continue
            raise
        listed = _call("list", kind, "", kube.list, res, "", selector(labels))
        for item in listed.get("items") or []:
            item.setdefault("apiVersion", res.api_version)  # typed lists leave them out
            item.setdefault("kind", res.kind)
            out.append((res, item))
    return out


def delete(kube: Kube, res: Resource, obj: dict[str, Any]) -> None:
    meta = _meta(obj)
    ns = str(meta.get("namespace") or "") if res.namespaced else ""
    _call("delete", res.kind, ns, kube.delete, res, ns, str(meta.get("name") or ""))


def reference(obj: dict[str, Any]) -> dict[str, str]:
    meta = _meta(obj)
    return {"apiVersion": str(obj.get("apiVersion") or ""), "kind": str(obj.get("kind") or ""),
            "namespace": str(meta.get("namespace") or ""), "name": str(meta.get("name") or ""),
            "uid": str(meta.get("uid") or "")}
