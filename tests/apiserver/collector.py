"""The controllers the stand-in runs in the background: the garbage collector (ownerReferences with
Background, Foreground and Orphan propagation), the namespace controller (a terminating namespace's objects are
deleted, then its `kubernetes` finalizer) and CRD instance cleanup. Their changes skip admission."""
from __future__ import annotations

import copy
import threading
import time
from typing import Any

from .resources import CRD, NAMESPACES
from .store import GroupResource, Store

CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"


class Collector:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.stopped = threading.Event()
        self.idle = threading.Event()
        self.last_sweep = 0.0
        self.thread = threading.Thread(target=self._run, name="apiserver-gc", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.store.dirty.set()
        self.thread.join(timeout=5)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until the collector has nothing left to do (test helper)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.store.dirty.is_set() and self.idle.is_set():
                return
            time.sleep(0.01)
        raise TimeoutError("garbage collection did not settle")

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.idle.set()
            self.store.dirty.wait(timeout=1.0)
            if self.stopped.is_set():
                return
            self.idle.clear()
            # a sweep reads every object under the store's lock: writes arriving meanwhile wait for it, so
            # sweeps are spaced (at least 4 times their own duration) to keep the lock for requests
            self.stopped.wait(max(0.02, 4 * self.last_sweep))
            self.store.dirty.clear()
            started = time.monotonic()
            with self.store.lock:
                for _ in range(1000):
                    if not self.pass_once():
                        break
            self.last_sweep = time.monotonic() - started

    def pass_once(self) -> bool:
        """One sweep; True when it changed something (the caller sweeps again)."""
        store = self.store
        changed = False
        by_uid: dict[str, tuple[GroupResource, dict[str, Any]]] = {}
        for gr, obj in store.all_objects():
            by_uid[obj["metadata"]["uid"]] = (gr, obj)
        referenced: dict[str, list[dict[str, Any]]] = {}
        for gr, obj in list(store.all_objects()):
            refs = obj["metadata"].get("ownerReferences") or []
            if not refs:
                continue
            keep, absent = [], 0
            dependent_ns = obj["metadata"].get("namespace") or ""
            for ref in refs:
                owner = by_uid.get(ref.get("uid", ""))
                if owner is None or not _valid_owner(owner[1], dependent_ns):
                    absent += 1
                    continue
                owner_fins = owner[1]["metadata"].get("finalizers") or []
                if owner[1]["metadata"].get("deletionTimestamp") and "orphan" in owner_fins:
                    continue  # orphaned: the reference goes, the dependent stays
                keep.append(ref)
                referenced.setdefault(ref["uid"], []).append(obj)
            if obj["metadata"].get("deletionTimestamp"):
                continue
            if absent and not keep:
                store.delete_locked(gr, obj)
                changed = True
            elif any(_foreground(by_uid[r["uid"]][1]) for r in keep):
                store.delete_locked(gr, obj, "Foreground")
                changed = True
            elif len(keep) != len(refs):
                new = copy.deepcopy(obj)
                if keep:
                    new["metadata"]["ownerReferences"] = keep
                else:
                    new["metadata"].pop("ownerReferences", None)
                store.replace_locked(gr, new)
                changed = True
        for gr, obj in list(store.all_objects()):
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp"):
                continue
            fins = list(meta.get("finalizers") or [])
            dependents = referenced.get(meta["uid"], [])
            new = copy.deepcopy(obj)
            if "orphan" in fins and not dependents:
                fins.remove("orphan")
            if "foregroundDeletion" in fins and not any(
                    r.get("blockOwnerDeletion") for d in dependents for r in d["metadata"]["ownerReferences"]
                    if r.get("uid") == meta["uid"]):
                fins.remove("foregroundDeletion")
            if gr == CRD and CRD_CLEANUP in fins and self._crd_instances_gone(obj):
                fins.remove(CRD_CLEANUP)
            if gr == NAMESPACES and self._namespace_empty(meta["name"]):
                spec_fins = [f for f in (new.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
                new.setdefault("spec", {})["finalizers"] = spec_fins
            if fins:
                new["metadata"]["finalizers"] = fins
            else:
                new["metadata"].pop("finalizers", None)
            if new != obj:
                store.replace_locked(gr, new)
                changed = True
        return changed

    def _crd_instances_gone(self, crd: dict[str, Any]) -> bool:
        gr = (crd["spec"]["group"], crd["spec"]["names"]["plural"])
        remaining = list(self.store.objects.get(gr, {}).values())
        for obj in remaining:
            if not obj["metadata"].get("deletionTimestamp"):
                self.store.delete_locked(gr, obj)
        return not self.store.objects.get(gr)

    def _namespace_empty(self, namespace: str) -> bool:
        left = False
        for gr, obj in list(self.store.all_objects()):
            if (obj["metadata"].get("namespace") or "") != namespace or gr == NAMESPACES:
                continue
            left = True
            if not obj["metadata"].get("deletionTimestamp"):
                self.store.delete_locked(gr, obj)
        if left:
            return not any((o["metadata"].get("namespace") or "") == namespace
                           for g, o in self.store.all_objects() if g != NAMESPACES)
        return True


def _valid_owner(owner: dict[str, Any], dependent_ns: str) -> bool:
    owner_ns = owner["metadata"].get("namespace") or ""
    return not owner_ns or owner_ns == dependent_ns


def _foreground(owner: dict[str, Any]) -> bool:
    meta = owner["metadata"]
    return bool(meta.get("deletionTimestamp")) and "foregroundDeletion" in (meta.get("finalizers") or [])
