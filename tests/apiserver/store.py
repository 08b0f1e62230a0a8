"""Objects, the global resourceVersion, the bounded event history and the watchers.

Every method that changes state runs under `lock`; request handling does admission outside it and then commits
here, passing the resourceVersion it read so a concurrent change is noticed (`Stale`)."""
from __future__ import annotations

import copy
import json
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from .resources import CRD, NAMESPACES, Registry, ResourceType, crd_types
from .status import already_exists, expired, forbidden, not_found

GroupResource = tuple[str, str]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


class Stale(Exception):
    """The stored object changed (or vanished) between read and commit."""


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def blocked(obj: dict[str, Any]) -> bool:
    """Whether a deletion must wait: metadata finalizers, or a namespace's spec.finalizers."""
    if (obj.get("metadata") or {}).get("finalizers"):
        return True
    return obj.get("kind") == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))


@dataclass
class Event:
    rv: int
    gr: GroupResource
    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclass
class Watcher:
    gr: GroupResource
    namespace: str
    labels: Callable[[dict], bool]
    fields: Callable[[dict], bool]
    queue: "queue.Queue[tuple[str, dict] | None]" = field(default_factory=queue.Queue)

    def _matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self.namespace and (obj["metadata"].get("namespace") or "") != self.namespace:
            return False
        return self.labels(obj["metadata"].get("labels") or {}) and self.fields(obj)

    def translate(self, ev: Event) -> tuple[str, dict[str, Any]] | None:
        """The event this watcher sees, with selector transitions (starts matching: ADDED; stops: DELETED)."""
        if ev.gr != self.gr:
            return None
        new_ok, old_ok = self._matches(ev.obj), self._matches(ev.old)
        if ev.type == "DELETED":
            return ("DELETED", ev.obj) if new_ok else None
        if ev.type == "ADDED":
            return ("ADDED", ev.obj) if new_ok else None
        if new_ok and old_ok:
            return ("MODIFIED", ev.obj)
        if new_ok:
            return ("ADDED", ev.obj)
        if old_ok:
            return ("DELETED", ev.obj)
        return None


class Store:
    def __init__(self, registry: Registry, history: int = 5000) -> None:
        self.registry = registry
        self.lock = threading.RLock()
        self.rv = 0
        self.objects: dict[GroupResource, dict[Key, dict[str, Any]]] = {}
        self.history: deque[Event] = deque(maxlen=history)
        self.compacted = 0          # every event with rv <= compacted is gone from history
        self.watchers: list[Watcher] = []
        self.dirty = threading.Event()  # something for the garbage collector to look at

    # -- reads ---------------------------------------------------------------------------------------------
    def get(self, gr: GroupResource, key: Key) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.get(gr, {}).get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def items(self, gr: GroupResource, namespace: str = "") -> tuple[list[dict[str, Any]], int]:
        with self.lock:
            objs = self.objects.get(gr, {})
            keys = sorted(k for k in objs if not namespace or k[0] == namespace)
            return [copy.deepcopy(objs[k]) for k in keys], self.rv

    def all_objects(self) -> Iterator[tuple[GroupResource, dict[str, Any]]]:
        """(group-resource, stored object) pairs; the caller holds the lock and must not change them."""
        for gr, objs in list(self.objects.items()):
            for obj in list(objs.values()):
                yield gr, obj

    def namespace_state(self, namespace: str) -> str | None:
        """None when the namespace does not exist, else its phase (Active, Terminating)."""
        ns = self.get(NAMESPACES, ("", namespace))
        if ns is None:
            return None
        return "Terminating" if ns["metadata"].get("deletionTimestamp") else "Active"

    # -- writes --------------------------------------------------------------------------------------------
    def create(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            k = key_of(obj)
            if rt.namespaced:
                self.check_namespace_open(rt, k[0], k[1])
            bucket = self.objects.setdefault(rt.group_resource, {})
            if k in bucket:
                raise already_exists(rt.plural, rt.group, k[1])
            obj = copy.deepcopy(obj)
            self._bump(obj)
            bucket[k] = obj
            self._after_change(rt.group_resource, obj)
            self._emit(rt.group_resource, "ADDED", obj, None)
            return copy.deepcopy(obj)

    def check_namespace_open(self, rt: ResourceType, namespace: str, name: str) -> None:
        state = self.namespace_state(namespace)
        if state is None:
            raise not_found("namespaces", "", namespace)
        if state == "Terminating":
            raise forbidden(rt.plural, rt.group, name, f"unable to create new content in namespace {namespace} "
                            "because it is being terminated")

    def update(self, rt: ResourceType, obj: dict[str, Any], expect_rv: str) -> dict[str, Any]:
        """Store `obj` in place of the object whose resourceVersion is `expect_rv` (else Stale). A result equal to
        the stored object is a no-op; an object being deleted whose last finalizer goes is removed."""
        with self.lock:
            gr, k = rt.group_resource, key_of(obj)
            current = self.objects.get(gr, {}).get(k)
            if current is None or current["metadata"]["resourceVersion"] != expect_rv:
                raise Stale()
            candidate = copy.deepcopy(obj)
            candidate["metadata"]["resourceVersion"] = expect_rv
            if _canonical(candidate) == _canonical(current):
                return copy.deepcopy(current)
            if candidate["metadata"].get("deletionTimestamp") and not blocked(candidate):
                return self._remove(gr, candidate, current)
            self._bump(candidate)
            self.objects[gr][k] = candidate
            self._after_change(gr, candidate)
            self._emit(gr, "MODIFIED", candidate, current)
            return copy.deepcopy(candidate)

    def delete(self, rt: ResourceType, key: Key, expect_rv: str, propagation: str) -> tuple[dict[str, Any], bool]:
        """Delete (or start deleting) an object; returns its final state and whether it is gone."""
        with self.lock:
            current = self.objects.get(rt.group_resource, {}).get(key)
            if current is None or current["metadata"]["resourceVersion"] != expect_rv:
                raise Stale()
            return self.delete_locked(rt.group_resource, current, propagation)

    def delete_locked(self, gr: GroupResource, current: dict[str, Any], propagation: str = "Background"
                      ) -> tuple[dict[str, Any], bool]:
        obj = copy.deepcopy(current)
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation)
        if extra and extra not in finalizers and not meta.get("deletionTimestamp"):
            finalizers.append(extra)
            meta["finalizers"] = finalizers
        if gr == NAMESPACES:
            obj.setdefault("status", {})["phase"] = "Terminating"
        if not blocked(obj):
            return self._remove(gr, obj, current), True
        if meta.get("deletionTimestamp") and _canonical(obj) == _canonical(current):
            return copy.deepcopy(current), False
        meta.setdefault("deletionTimestamp", now())
        meta.setdefault("deletionGracePeriodSeconds", 0)
        self._bump(obj)
        self.objects[gr][key_of(obj)] = obj
        self._emit(gr, "MODIFIED", obj, current)
        self.dirty.set()
        return copy.deepcopy(obj), False

    def replace_locked(self, gr: GroupResource, obj: dict[str, Any]) -> None:
        """A change made by the garbage collector or a controller (no admission); removes an object being
        deleted whose finalizers are gone."""
        current = self.objects[gr][key_of(obj)]
        if obj["metadata"].get("deletionTimestamp") and not blocked(obj):
            self._remove(gr, obj, current)
            return
        if _canonical(obj) == _canonical(current):
            return
        self._bump(obj)
        self.objects[gr][key_of(obj)] = obj
        self._after_change(gr, obj)
        self._emit(gr, "MODIFIED", obj, current)

    def _remove(self, gr: GroupResource, obj: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
        del self.objects[gr][key_of(obj)]
        self._bump(obj)
        if gr == CRD:
            self.registry.drop_crd(obj["metadata"]["name"])
        self._emit(gr, "DELETED", obj, current)
        self.dirty.set()
        return copy.deepcopy(obj)

    def _after_change(self, gr: GroupResource, obj: dict[str, Any]) -> None:
        if gr == CRD and not obj["metadata"].get("deletionTimestamp"):
            self.registry.set_crd(obj["metadata"]["name"], crd_types(obj))
        if obj["metadata"].get("ownerReferences"):
            self.dirty.set()

    def _bump(self, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    # -- events and watches --------------------------------------------------------------------------------
    def _emit(self, gr: GroupResource, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        ev = Event(self.rv, gr, kind, copy.deepcopy(obj), copy.deepcopy(old) if old is not None else None)
        if len(self.history) == self.history.maxlen:
            self.compacted = self.history[0].rv
        self.history.append(ev)
        for w in self.watchers:
            seen = w.translate(ev)
            if seen is not None:
                w.queue.put(seen)

    def compact(self) -> None:
        """Forget the event history (as etcd compaction does): watches from an older resourceVersion get 410."""
        with self.lock:
            self.history.clear()
            self.compacted = self.rv

    def watch(self, w: Watcher, since: str | None) -> Watcher:
        """Register `w`; queue the current objects as ADDED (no or "0" resourceVersion) or the events after
        `since`. 410 Expired when that history is gone."""
        with self.lock:
            if since in (None, "", "0"):
                objs = self.objects.get(w.gr, {})
                for k in sorted(objs):
                    if w._matches(objs[k]):
                        w.queue.put(("ADDED", copy.deepcopy(objs[k])))
            else:
                try:
                    start = int(since)
                except ValueError:
                    from .status import bad_request
                    raise bad_request(f"Invalid value: \"{since}\": resourceVersion must be an integer") from None
                if start < self.compacted:
                    raise expired(start, self.compacted + 1)
                for ev in self.history:
                    if ev.rv > start:
                        seen = w.translate(ev)
                        if seen is not None:
                            w.queue.put(seen)
            self.watchers.append(w)
            return w

    def unwatch(self, w: Watcher) -> None:
        with self.lock:
            if w in self.watchers:
                self.watchers.remove(w)

    def close_watches(self) -> None:
        with self.lock:
            for w in self.watchers:
                w.queue.put(None)


def _canonical(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
