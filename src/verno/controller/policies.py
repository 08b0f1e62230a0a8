"""ClusterPolicies and Policies as the cluster has them, each prepared once per resourceVersion.

A policy that does not load is logged and left out (its generate requests then fail with that reason).
Listeners see every change as (event, key, prepared or None, previous prepared or None).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from verno.core.engine import Engine
from verno.core.loading import Document, validate_model
from verno.core.models.policy import Policy
from verno.core.prepare import PreparedPolicy
from verno.core.updaterequest import policy_key

log = logging.getLogger("verno.controller.policies")

Listener = Callable[[str, str, "PreparedPolicy | None", "PreparedPolicy | None"], None]


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


class PolicyCache:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._by_key: dict[str, tuple[str, PreparedPolicy | None, str]] = {}  # key -> (rv, prepared, error)
        self.listeners: list[Listener] = []

    def get(self, key: str) -> PreparedPolicy | None:
        with self._lock:
            entry = self._by_key.get(key)
        return entry[1] if entry else None

    def error(self, key: str) -> str:
        with self._lock:
            entry = self._by_key.get(key)
        return entry[2] if entry else ""

    def all(self) -> list[PreparedPolicy]:
        with self._lock:
            return [p for _, p, _ in self._by_key.values() if p is not None]

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "") if obj.get("kind") == "Policy" else ""
        key = policy_key(str(meta.get("name") or ""), namespace)
        with self._lock:
            previous = self._by_key.get(key)
        old = previous[1] if previous else None
        if kind == "DELETED":
            with self._lock:
                self._by_key.pop(key, None)
            self._notify("DELETED", key, None, old)
            return
        rv = str(meta.get("resourceVersion") or "")
        if previous is not None and previous[0] == rv:
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
            self._by_key[key] = (rv, prepared, error)
        self._notify("ADDED" if previous is None else "MODIFIED", key, prepared, old)

    def _notify(self, kind: str, key: str, new: PreparedPolicy | None, old: PreparedPolicy | None) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, key, new, old)
            except Exception:
                log.exception("policy listener failed", extra={"policy": key})
