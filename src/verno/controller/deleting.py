"""DeletingPolicies in the cluster (Kyverno's cleanup controller for ``policies.kyverno.io`` DeletingPolicy and
NamespacedDeletingPolicy): at each time a policy's ``schedule`` fires, the objects it selects whose
conditions hold are deleted.

* Policies are watched (a cluster that does not serve the kinds has none) and loaded through the engine's
  policy-kind registry; one verno cannot load gets a ``PolicyError`` Event and never runs.
* A policy's next run is the first scheduled time after ``status.lastExecutionTime`` (or its creation); a
  loop sleeps until the earliest one (woken by policy changes) and runs due policies one at a time.
* A run lists every resource its ``matchConstraints`` name (``resourceRules``: groups, versions and
  resources; ``*`` is read from discovery), in the policy's namespace for a NamespacedDeletingPolicy, and
  evaluates each through the engine as ``verno test`` does (conditions, variables, ``namespaceObject``,
  ``policies.kyverno.io`` PolicyExceptions, ``resource.*`` lookups against the cluster). A ``pass`` (would
  be deleted) is deleted with the object's uid as a precondition and the policy's
  ``deletionPropagationPolicy`` (Background when unset); a 403 is a Warning Event on the policy and counted.
* The run's time is written to ``status.lastExecutionTime`` (status subresource, with the resourceVersion;
  a 409 re-reads the policy), so a restart or a new leader does not run it again for the same tick.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Callable

from verno.controller.events import EventRecorder
from verno.controller.informer import object_key
from verno.controller.kindpolicies import KindPolicyCache, cel_exceptions, constraint_resources, served_informers
from verno.controller.kube import APIError, Kube, Resource
from verno.controller.sources import KubeDataSource
from verno.core.cel.cluster_data import ClusterCelData
from verno.core.policykinds import CLUSTER_VERSIONS, KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.schedule import next_run
from verno.core.sources import Sources

log = logging.getLogger("verno.controller.deleting")

GROUP, VERSION = "policies.kyverno.io", "v1"
KINDS = ("DeletingPolicy", "NamespacedDeletingPolicy")
#: the longest sleep between looks at the schedules (policy events wake the loop sooner)
MAX_SLEEP = 30.0


def _parse_time(value: Any) -> dt.datetime | None:
    text = str(value or "")
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    return None


def _format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeletionScheduler:
    def __init__(self, kube: Kube, engine: Any, events: EventRecorder, metrics: Any, stop: threading.Event, *,
                 watch_seconds: int = 60, now: Callable[[], dt.datetime] | None = None):
        self.kube, self.engine, self.events, self.metrics, self.stop_event = kube, engine, events, metrics, stop
        self.watch_seconds = watch_seconds
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self._objects: dict[str, dict[str, Any]] = {}  # policy key -> the object as the cluster has it
        self._cache = KindPolicyCache(engine, GROUP)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.cel_data = ClusterCelData(KubeDataSource(kube))
        self.runs = 0
        self.deleted = 0

    # -- watching -------------------------------------------------------------------------------------------
    def start(self, *, loop: bool = True) -> "DeletionScheduler":
        """Watch the policies and (``loop``) run them when due."""
        informers = served_informers(self.kube, GROUP, KINDS, self._event, self.stop_event,
                                     self.watch_seconds)
        for informer in informers:
            informer.start()
        if informers and loop:
            threading.Thread(target=self._loop, name="verno-deleting", daemon=True).start()
        return self

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        key = f"{obj.get('kind')}:{object_key(obj)}"
        with self._lock:
            if kind == "DELETED":
                self._objects.pop(key, None)
            else:
                self._objects[key] = obj
        self._wake.set()

    def _policy(self, key: str, obj: dict[str, Any]) -> Any:
        policy, error, fresh = self._cache.load(key, obj)
        if error and fresh:
            self.events.policy_warning(object_key(obj), f"policy not loaded: {error}",
                                       involved=(str(obj.get("apiVersion") or f"{GROUP}/{VERSION}"),
                                                 str(obj.get("kind"))))
        return policy

    # -- scheduling -----------------------------------------------------------------------------------------
    def next_run(self, obj: dict[str, Any], schedule: str) -> dt.datetime:
        meta = obj.get("metadata") or {}
        last = _parse_time((obj.get("status") or {}).get("lastExecutionTime")) \
            or _parse_time(meta.get("creationTimestamp")) or self.now()
        return next_run(schedule, last)

    def due(self) -> tuple[list[tuple[str, dict[str, Any], Any]], float]:
        """(policies due now, seconds until the next one is)."""
        now = self.now()
        with self._lock:
            objects = dict(self._objects)
        ready, wait = [], MAX_SLEEP
        for key, obj in sorted(objects.items()):
            policy = self._policy(key, obj)
            if policy is None:
                continue
            when = self.next_run(obj, policy.schedule)
            if when <= now:
                ready.append((key, obj, policy))
            else:
                wait = min(wait, (when - now).total_seconds())
        return ready, max(wait, 0.05)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                ready, wait = self.due()
                for _key, obj, policy in ready:
                    if self.stop_event.is_set():
                        return
                    self.run(obj, policy)
            except Exception:
                log.exception("deleting policies not run")
                wait = MAX_SLEEP
            self._wake.wait(wait)
            self._wake.clear()

    # -- one run --------------------------------------------------------------------------------------------
    def run(self, obj: dict[str, Any], policy: Any) -> int:
        """Run one policy now: delete what it selects and its conditions hold for; record the run."""
        started = self.now()
        policy_key = object_key(obj)
        involved = (f"{GROUP}/{VERSION}", policy.kind)
        namespaces: dict[str, dict[str, Any]] = {}
        sources = Sources()
        sources.cel_data = self.cel_data
        inputs = KindInputs(sources, {"policies.kyverno.io/PolicyException": cel_exceptions(self.kube)},
                            namespaces=namespaces, engine=self.engine)
        deleted = 0
        for res in constraint_resources(self.kube, policy):
            try:
                listed = self.kube.list(res, policy.namespace if res.namespaced else "")
            except APIError as exc:
                self._refused(exc, "list", res, policy.namespace, policy_key, involved)
                continue
            for item in listed.get("items") or []:
                item = {**item, "apiVersion": res.api_version, "kind": res.kind}
                meta = item.get("metadata") or {}
                ns = str(meta.get("namespace") or "")
                if ns and ns not in namespaces:
                    namespaces[ns] = self.kube.get(self.kube.resource("v1", "Namespace"), "", ns) or {}
                request = Request(item, None, "CREATE")
                out = self.engine.evaluate_kinds([policy], request, inputs)
                if not out or not any(r.status is Status.PASS for r in out[0].rules):
                    continue
                if self._delete(res, ns, meta, policy, policy_key, involved):
                    deleted += 1
        self._record_run(obj, started)
        self.runs += 1
        self.deleted += deleted
        log.info("deleting policy ran", extra={"policy": policy_key, "deleted": deleted})
        return deleted

    def _delete(self, res: Resource, namespace: str, meta: dict[str, Any], policy: Any, policy_key: str,
                involved: tuple[str, str]) -> bool:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": policy.propagation or "Background",
                "preconditions": {"uid": meta.get("uid")} if meta.get("uid") else None}
        body = {k: v for k, v in body.items() if v is not None}
        try:
            self.kube.request("DELETE", res.path(namespace, str(meta.get("name") or "")), body=body)
        except APIError as exc:
            if exc.not_found or exc.conflict:  # gone already, or replaced by another object of the name
                return False
            self._refused(exc, "delete", res, namespace, policy_key, involved)
            return False
        self.metrics.writes.inc("deleted")
        return True

    def _refused(self, exc: APIError, verb: str, res: Resource, namespace: str, policy_key: str,
                 involved: tuple[str, str]) -> None:
        if exc.code == 403:
            where = f" in namespace {namespace}" if namespace else ""
            self.metrics.denied.inc(verb, res.kind, namespace)
            self.events.policy_warning(policy_key, f"verno lacks permission to {verb} {res.kind}{where}: "
                                                   f"{exc.message}", involved=involved)
            return
        log.warning("deleting policy could not %s", verb, extra={"policy": policy_key, "resource": res.plural,
                                                                 "error": str(exc)})

    def _record_run(self, obj: dict[str, Any], when: dt.datetime) -> None:
        res = self.kube.served(GROUP, str(obj.get("kind")), CLUSTER_VERSIONS)
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        current = obj
        for _ in range(5):
            body = {**current, "apiVersion": f"{res.group}/{res.version}",
                    "status": {**(current.get("status") or {}), "lastExecutionTime": _format_time(when)}}
            try:
                written = self.kube.replace(res, namespace, body, subresource="status")
                key = f"{obj.get('kind')}:{object_key(obj)}"
                with self._lock:
                    if key in self._objects:
                        self._objects[key] = written
                return
            except APIError as exc:
                if not exc.conflict:
                    log.warning("deleting policy status not written", extra={"policy": name, "error": str(exc)})
                    return
                current = self.kube.get(res, namespace, name)
                if current is None:
                    return
