"""ClusterPolicy and Policy ``status`` as Kyverno writes it (K: api/kyverno/v1/policy_status.go,
pkg/controllers/webhook/controller.go ``updatePolicyStatuses``), written by the leader.

- ``conditions``: one of type ``Ready``: ``True``/``Succeeded``/``Ready`` when verno loaded and prepared the
  policy, ``False``/``Failed``/<the load error> when it cannot (so a policy verno rejects is visibly not ready).
  ``lastTransitionTime`` changes only when the condition's status flips; other condition types are kept.
- ``conditions`` also holds ``PermissionDenied`` once a write of the policy's downstream met a 403 (verno's own;
  Ready is untouched, the policy loaded): ``True``/``Forbidden``/each denied verb, kind and namespace
  (``verno lacks permission to create NetworkPolicy in namespace locked``, ``; ``-separated). When later writes
  for those (verb, kind, namespace) succeed it stays, as ``False``/``Allowed`` (Kubernetes keeps a condition
  that no longer holds as ``False`` rather than dropping it); a policy never denied has none. The denials come
  from the generator through ``denials.Denials``; after a restart the condition is kept until a write of the
  policy is denied or allowed again.
- ``ready`` (deprecated) is cleared; ``autogen.rules`` holds the generated ``autogen-*`` rules;
  ``rulecount`` counts the policy's own (non-autogen) rules by kind.

The status is compared first and written only when it differs, through the status subresource with the
object's resourceVersion; a conflict re-reads the object and tries again (the policy itself unchanged), a
changed policy waits for its own event.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Callable

from verno.controller.denials import Denial, Denials, describe
from verno.controller.kube import APIError, Kube
from verno.controller.policies import PolicyCache, fingerprint
from verno.controller.workqueue import WorkQueue
from verno.core.prepare import PreparedPolicy
from verno.core.updaterequest import policy_key

log = logging.getLogger("verno.controller.status")

READY = "Ready"
PERMISSION_DENIED = "PermissionDenied"
ALLOWED_MESSAGE = "verno's later writes for this policy were allowed"
#: metav1.Condition's message limit (the API server refuses longer)
MAX_MESSAGE = 32768
#: status writes tried per change before the key goes back on the queue with backoff
CONFLICT_RETRIES = 5
RULE_KINDS = (("validate", "validate"), ("generate", "generate"), ("mutate", "mutate"),
              ("verifyImages", "verifyimages"))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace") or "") if obj.get("kind") == "Policy" else ""
    return policy_key(str(meta.get("name") or ""), namespace)


def rule_count(obj: dict[str, Any]) -> dict[str, int]:
    """Kyverno's ``setRuleCount``: the policy's own rules (not ``autogen-*``) having each kind."""
    counts = {field: 0 for _, field in RULE_KINDS}
    rules = (obj.get("spec") or {}).get("rules") if isinstance(obj.get("spec"), dict) else None
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict) or str(rule.get("name") or "").startswith("autogen-"):
            continue
        for key, field in RULE_KINDS:
            if rule.get(key):
                counts[field] += 1
    return counts


def autogen_rules(prepared: PreparedPolicy | None) -> list[dict[str, Any]]:
    if prepared is None:
        return []
    return [r.rule.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json") for r in prepared.rules
            if r.name.startswith("autogen-") and r.name != r.base_name]


def ready_condition(ready: bool, error: str) -> dict[str, Any]:
    if ready:
        return {"type": READY, "status": "True", "reason": "Succeeded", "message": "Ready"}
    message = error or "Not Ready"
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE - 3] + "..."
    return {"type": READY, "status": "False", "reason": "Failed", "message": message}


def permission_condition(denied: list[Denial]) -> dict[str, Any]:
    if not denied:
        return {"type": PERMISSION_DENIED, "status": "False", "reason": "Allowed", "message": ALLOWED_MESSAGE}
    message = "; ".join(describe(d) for d in sorted(denied))
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE - 3] + "..."
    return {"type": PERMISSION_DENIED, "status": "True", "reason": "Forbidden", "message": message}


def _set_condition(conditions: list[dict[str, Any]], wanted: dict[str, Any],
                   clock: Callable[[], str]) -> list[dict[str, Any]]:
    """``conditions`` with ``wanted`` in place of its type's (appended if none); the old lastTransitionTime
    kept unless the status flips."""
    old = next((c for c in conditions if c.get("type") == wanted["type"]), None)
    if old is not None and old.get("status") == wanted["status"] and old.get("lastTransitionTime"):
        wanted["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        wanted["lastTransitionTime"] = clock()
    wanted = {k: wanted[k] for k in ("type", "status", "lastTransitionTime", "reason", "message")}
    return [wanted if c is old else c for c in conditions] if old is not None else [*conditions, wanted]


def desired_status(obj: dict[str, Any], prepared: PreparedPolicy | None, error: str,
                   clock: Callable[[], str] = now, denied: list[Denial] | None = None) -> dict[str, Any]:
    """The status ``obj`` should have, built on the one it has (fields verno does not own are kept).
    ``denied``: the 403s met writing the policy's downstream (None: nothing known, PermissionDenied kept)."""
    current = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    status = {k: v for k, v in current.items() if k != "ready"}
    conditions = [c for c in current.get("conditions") or [] if isinstance(c, dict)]
    conditions = _set_condition(conditions, ready_condition(prepared is not None and not error, error), clock)
    had = any(c.get("type") == PERMISSION_DENIED for c in conditions)
    if denied is not None and (denied or had):
        conditions = _set_condition(conditions, permission_condition(denied), clock)
    status["conditions"] = conditions
    rules = autogen_rules(prepared)
    status["autogen"] = {"rules": rules} if rules else {}
    status["rulecount"] = rule_count(obj)
    return status


class StatusWriter:
    """Queues a policy on each of its events; a worker thread writes the status that differs."""

    def __init__(self, kube: Kube, policies: PolicyCache, stop: threading.Event, backoff: float = 0.5,
                 denials: Denials | None = None):
        self.kube, self.policies, self.stop_event = kube, policies, stop
        self.denials = denials or Denials()
        self.denials.listeners.append(self._denials_changed)
        self.queue = WorkQueue(base_delay=backoff)
        self._latest: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def start(self) -> "StatusWriter":
        threading.Thread(target=self._run, name="verno-policy-status", daemon=True).start()
        return self

    def close(self) -> None:
        self.queue.close()

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        """After the cache took the event in: remember the object and queue its status."""
        key = f"{obj.get('kind')}/{key_of(obj)}"
        with self._lock:
            if kind == "DELETED":
                self._latest.pop(key, None)
                self.denials.forget(key_of(obj))
                return
            self._latest[key] = obj
        self.queue.add(key)

    def _denials_changed(self, policy: str) -> None:
        """The generator met (or no longer meets) a 403 for ``policy``: its status is due again."""
        key = f"{'Policy' if '/' in policy else 'ClusterPolicy'}/{policy}"
        with self._lock:
            known = key in self._latest
        if known:
            self.queue.add(key)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            try:
                self.reconcile(key)
                self.queue.forget(key)
            except APIError as exc:
                if not self.stop_event.is_set():
                    log.warning("policy status not written; retrying", extra={"policy": key, "error": str(exc)})
                    self.queue.retry(key)
            finally:
                self.queue.done(key)

    def reconcile(self, key: str) -> None:
        with self._lock:
            obj = self._latest.get(key)
        if obj is None:
            return
        loaded = self.policies.loaded(key_of(obj))
        if loaded is None or loaded.fingerprint != fingerprint(obj):
            return  # the cache has not taken this version in yet; its event queues the key again
        res = self.kube.resource(str(obj.get("apiVersion") or "kyverno.io/v1"), str(obj.get("kind")))
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        for _ in range(CONFLICT_RETRIES):
            status = desired_status(obj, loaded.prepared, loaded.error, denied=self.denials.of(key_of(obj)))
            if status == obj.get("status"):
                return
            try:
                self.kube.replace(res, namespace, {**obj, "status": status}, subresource="status")
            except APIError as exc:
                if exc.not_found:
                    return
                if not exc.conflict:
                    raise
                fresh = self.kube.get(res, namespace, str(obj["metadata"]["name"]))
                if fresh is None or fingerprint(fresh) != loaded.fingerprint:
                    return  # deleted or changed: its own event takes over
                fresh.setdefault("apiVersion", obj.get("apiVersion"))
                fresh.setdefault("kind", obj.get("kind"))
                obj = fresh
                continue
            self.writes += 1
            condition = status["conditions"]
            log.info("policy status written", extra={"policy": key, "ready": next(
                c["status"] for c in condition if c.get("type") == READY)})
            return
        raise APIError(409, "Conflict", f"{key}: the status kept conflicting")
