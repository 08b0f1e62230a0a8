"""ClusterPolicies and Policies as the cluster has them, each prepared once per change of what verno loads
(everything but ``status`` and the bookkeeping metadata: a status write does not prepare the policy again).

A policy that does not load is logged and left out (its generate requests then fail with that reason, and its
status says so).
Listeners see every change as (event, key, prepared or None, previous prepared or None).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from verno.core.engine import Engine
from verno.core.loading import Document, validate_model
from verno.core.models.policy import Policy
from verno.core.prepare import PreparedPolicy
from verno.core.updaterequest import policy_key

log = logging.getLogger("verno.controller.policies")

Listener = Callable[[str, str, "PreparedPolicy | None", "PreparedPolicy | None"], None]


#: metadata a write changes without changing the policy
_BOOKKEEPING = ("managedFields", "resourceVersion", "generation")


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


def fingerprint(obj: dict[str, Any]) -> str:
    """What verno loads of a policy object: equal fingerprints prepare alike."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _BOOKKEEPING}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    return hashlib.sha256(json.dumps([meta, body], sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Loaded:
    """One policy as last loaded: its fingerprint, the prepared policy or the load error."""
    fingerprint: str
    prepared: PreparedPolicy | None
    error: str


class PolicyCache:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._by_key: dict[str, Loaded] = {}
        self.listeners: list[Listener] = []

    def loaded(self, key: str) -> Loaded | None:
        with self._lock:
            return self._by_key.get(key)

    def get(self, key: str) -> PreparedPolicy | None:
        entry = self.loaded(key)
        return entry.prepared if entry else None

    def error(self, key: str) -> str:
        entry = self.loaded(key)
        return entry.error if entry else ""

    def all(self) -> list[PreparedPolicy]:
        with self._lock:
            return [e.prepared for e in self._by_key.values() if e.prepared is not None]

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "") if obj.get("kind") == "Policy" else ""
        key = policy_key(str(meta.get("name") or ""), namespace)
        with self._lock:
            previous = self._by_key.get(key)
        old = previous.prepared if previous else None
        if kind == "DELETED":
            with self._lock:
                self._by_key.pop(key, None)
            self._notify("DELETED", key, None, old)
            return
        mark = fingerprint(obj)
        if previous is not None and previous.fingerprint == mark:
            return
        prepared: PreparedPolicy | None = None
        error = ""
        try:
            policy = validate_model(Policy, Document(f"{obj.get('kind')}/{key}", 0, _clean(obj)))
            prepared = self.engine.prepare(policy, source=f"{obj.get('kind')}/{key}")
            self.engine.require_handlers([prepared])
        except Exception as exc:
            error = str(exc)
            log.error("policy not loaded", extra={"policy": key, "error": error})
            prepared = None
        with self._lock:
            self._by_key[key] = Loaded(mark, prepared, error)
        self._notify("ADDED" if previous is None else "MODIFIED", key, prepared, old)

    def _notify(self, kind: str, key: str, new: PreparedPolicy | None, old: PreparedPolicy | None) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, key, new, old)
            except Exception:
                log.exception("policy listener failed", extra={"policy": key})
