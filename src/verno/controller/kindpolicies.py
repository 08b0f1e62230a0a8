"""Policies of plugin-registered kinds (GeneratingPolicy, DeletingPolicy, MutatingPolicy ...) as the cluster
holds them: each loaded through the engine's policy-kind registry (the controller imports no plugin) once per
spec ``generation`` (a status write changes only the resourceVersion), and informers for those of the kinds
the cluster serves."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from verno.controller.informer import Informer, object_key
from verno.controller.kube import APIError, Kube, Resource
from verno.core.errors import VernoError
from verno.core.loading import Document
from verno.core.policykinds import CLUSTER_VERSIONS

log = logging.getLogger("verno.controller.kindpolicies")

__all__ = ["KindPolicies", "KindPolicyCache", "cel_exceptions", "constraint_resources", "generation_of",
           "served_informers"]

EXCEPTION_GROUP = "policies.kyverno.io"


def generation_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("generation") or meta.get("resourceVersion") or "")


def served_informers(kube: Kube, group: str, kinds: tuple[str, ...], handler: Callable[[str, dict], None],
                     stop: threading.Event, watch_seconds: int) -> list[Informer]:
    """Informers (not started) for each of ``kinds`` of ``group`` the cluster serves, at the first of
    :data:`CLUSTER_VERSIONS` it serves; a kind it does not serve has no policies."""
    out = []
    for kind in kinds:
        try:
            res = kube.served(group, kind, CLUSTER_VERSIONS)
        except APIError as exc:
            if exc.not_found:
                log.info("kind not served; no policies of it", extra={"kind": kind})
                continue
            raise
        out.append(Informer(kube, res, handler, stop, watch_seconds=watch_seconds))
    return out


def constraint_resources(kube: Kube, policy: Any) -> list[Resource]:
    """The served resources (no subresources) a CEL policy's ``matchConstraints.resourceRules`` select."""
    rules = ((policy.document.get("spec") or {}).get("matchConstraints") or {}).get("resourceRules") or []
    found: dict[tuple[str, str, str], Resource] = {}
    for rule in rules:
        for group in rule.get("apiGroups") or [""]:
            for version in rule.get("apiVersions") or ["*"]:
                for plural in rule.get("resources") or []:
                    for res in kube.resources_matching(group, version, plural):
                        found[(res.group, res.version, res.plural)] = res
    return list(found.values())


def cel_exceptions(kube: Kube) -> list[dict[str, Any]]:
    """The cluster's ``policies.kyverno.io`` PolicyExceptions (none when it does not serve them)."""
    try:
        res = kube.served(EXCEPTION_GROUP, "PolicyException", CLUSTER_VERSIONS)
    except APIError:
        return []
    items = kube.list(res).get("items") or []
    return [{**i, "apiVersion": i.get("apiVersion") or f"{res.group}/{res.version}", "kind": "PolicyException"}
            for i in items]


class KindPolicyCache:
    """Loaded policies by key, each loaded again only when its spec generation changes."""

    def __init__(self, engine: Any, group: str):
        self.engine, self.group = engine, group
        self._entries: dict[str, tuple[str, Any, str]] = {}  # key -> (generation, policy or None, error)
        self._lock = threading.Lock()

    def load(self, key: str, obj: dict[str, Any]) -> tuple[Any, str, bool]:
        """(the loaded policy or None, the load error or "", whether this generation was loaded now)."""
        generation = generation_of(obj)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] == generation:
            return entry[1], entry[2], False
        kind = str(obj.get("kind"))
        loader = self.engine.policy_kinds.kind_of(self.group, kind)
        doc = {k: v for k, v in obj.items() if k != "status"}
        try:
            if loader is None:
                raise VernoError(f"no plugin runs {kind}")
            policy, error = loader.load(Document(f"{kind}/{key}", 0, doc), self.engine), ""
        except VernoError as exc:
            policy, error = None, str(exc)
        with self._lock:
            self._entries[key] = (generation, policy, error)
        return policy, error, True

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry else None

    def error(self, key: str) -> str:
        with self._lock:
            entry = self._entries.get(key)
        return entry[2] if entry else ""

    def all(self) -> list[Any]:
        with self._lock:
            return [p for _, p, _ in self._entries.values() if p is not None]

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


#: ``listener(event kind, policy key, the policy now or None, the policy before or None)``
Listener = Callable[[str, str, Any, Any], None]


class KindPolicies:
    """The cluster's policies of some kinds of one group (GeneratingPolicies, ValidatingPolicies ...), each
    loaded once per ``metadata.generation``; a policy that does not load is an Event on it. Listeners hear
    every change of what is loaded."""

    def __init__(self, kube: Kube, engine: Any, events: Any, group: str, kinds: tuple[str, ...]):
        self.kube, self.engine, self.events, self.group, self.kinds = kube, engine, events, group, kinds
        self._cache = KindPolicyCache(engine, group)
        self.listeners: list[Listener] = []

    def informers(self, stop: threading.Event, watch_seconds: int) -> list[Informer]:
        return served_informers(self.kube, self.group, self.kinds, self.event, stop, watch_seconds)

    def get(self, key: str) -> Any:
        return self._cache.get(key)

    def error(self, key: str) -> str:
        return self._cache.error(key)

    def all(self) -> list[Any]:
        return self._cache.all()

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        key = object_key(obj)
        old = self.get(key)
        if kind == "DELETED":
            self._cache.forget(key)
            for listener in self.listeners:
                listener(kind, key, None, old)
            return
        loaded, error, fresh = self._cache.load(key, obj)
        if not fresh:
            return  # a status write: nothing verno loads changed
        if error:
            self.events.policy_warning(key, f"policy not loaded: {error}",
                                       involved=(str(obj.get("apiVersion") or f"{self.group}/{CLUSTER_VERSIONS[0]}"),
                                                 str(obj.get("kind"))))
        for listener in self.listeners:
            listener(kind, key, loaded, old)
