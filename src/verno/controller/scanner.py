"""Background scans (Kyverno's reports controller, K: pkg/controllers/report/background/controller.go): the
validate and verifyImages rules of ``background: true`` policies evaluated against the resources of the kinds
they match, results into one report per resource (``reports.py``), whatever the failure action.

- **Which resources:** every kind a background policy's validate and verifyImages rules name (autogen rules included: Pod
  policies also scan Deployments, CronJobs ...) is listed and watched; a kind given with a wildcard or a
  subresource is not scanned (logged).
- **When:** a watched resource added or changed is scanned after ``debounce`` seconds (several changes in a
  row make one scan); a policy added, changed or deleted rescans every resource of its kinds; every
  ``interval`` every resource is scanned again (context data may have changed). A resource deleted takes
  its report with it (ownerReference, garbage collection).
- **Skipping** (Kyverno's needsReconcile): a resource whose report carries the resource's hash and the
  resourceVersion of each policy evaluated, and whose ``last-scan-time`` is younger than the interval, is not
  evaluated again (a restart or a new leader scans only what changed); an evaluation whose results and
  labels equal the report's writes nothing.
- **Admission results:** the webhook's Audit results (and Enforce passes) of admitted resources reach the
  report through the same path: the admitted resource's watch event rescans it (process ``background scan``,
  as Kyverno says for background policies). Nothing passes from the webhook through process memory.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from verno.controller.informer import Informer
from verno.controller.kindpolicies import KindPolicies
from verno.controller.kindscan import KindScan
from verno.controller.kindscan import scanned as kind_scanned
from verno.controller.kube import APIError, Kube, Resource
from verno.controller.metrics import Counter
from verno.controller.policies import PolicyCache
from verno.controller.reports import ReportWriter, build_report, policy_label, resource_hash, results_digest
from verno.controller.sources import KubeDataSource
from verno.controller.workqueue import WorkQueue
from verno.core.engine import Engine
from verno.core.kinds import parse_kind_selector
from verno.core.policyreport import BACKGROUND_SCAN, report_entry, report_result
from verno.core.prepare import PreparedPolicy
from verno.core.request import Request
from verno.core.sources import Sources
from verno.core.wildcard import has_wildcard

log = logging.getLogger("verno.controller.scanner")

#: the rule kinds a background scan evaluates (verifyImages checks signatures through the controller's
#: registry pool, as Kyverno's background scans do)
PHASES = ("verifyImages", "validate")


def scanned(prepared: PreparedPolicy) -> bool:
    """Whether background scans evaluate the policy: ``background: true`` and validate or verifyImages rules."""
    return prepared.policy.spec.background is not False and any(k in prepared.kinds for k in PHASES)


def match_kinds(prepared: PreparedPolicy) -> list[str]:
    """The kind selectors of the policy's scanned rules' match blocks (autogen rules included)."""
    kinds: list[str] = []
    for phase in PHASES:
        for rule in prepared.rules_of(phase):
            block = rule.rule.match
            for f in [*(block.any or []), *(block.all or []), block]:
                for kind in f.resources.kinds:
                    if kind not in kinds:
                        kinds.append(kind)
    return kinds


#: characters of a policy's fingerprint a report label keeps
MARK_LENGTH = 20


class ScanCounters:
    """The scanner's Prometheus counters (served with the controller's metrics)."""

    def __init__(self) -> None:
        self.scans = Counter("verno_controller_background_scans_total",
                             "Background scans of one resource, by outcome (skipped: its report was current; "
                             "unchanged: evaluated, nothing to write; written; failed).", ("result",))
        self.scan_seconds = Counter("verno_controller_background_scan_seconds_total",
                                    "Seconds spent evaluating resources in background scans.")
        self.results = Counter("verno_controller_report_results_total",
                               "Report results produced by background scans, by result.", ("result",))
        self.writes = Counter("verno_controller_report_writes_total",
                              "Report writes, by action (created, updated, deleted, conflict, failed).", ("action",))

    def all(self) -> list[Counter]:
        return [self.scans, self.scan_seconds, self.results, self.writes]


class KindResolver:
    """Kind selectors (``Pod``, ``v1/Pod``, ``apps/v1/Deployment``, ``batch/*/Job``) to served resources, by
    discovery; what cannot be scanned is None (and logged once)."""

    def __init__(self, kube: Kube):
        self.kube = kube
        self._found: dict[str, Resource | None] = {}

    def __call__(self, selector: str) -> Resource | None:
        if selector not in self._found:
            self._found[selector] = self._resolve(selector)
        return self._found[selector]

    def _resolve(self, selector: str) -> Resource | None:
        group, version, kind, sub = parse_kind_selector(selector)
        if sub or not kind or has_wildcard(kind) or has_wildcard(group.strip("*")) or \
                has_wildcard(version.strip("*")):
            log.warning("kind not scanned in background (a wildcard or a subresource)", extra={"kind": selector})
            return None
        candidates: list[str] = []
        if group != "*" and version != "*":
            candidates = [f"{group}/{version}" if group else version]
        else:
            groups = self.kube.request("GET", "/apis").get("groups") or []
            for g in groups:
                if group not in ("*", g.get("name")):
                    continue
                versions = [str(v.get("groupVersion")) for v in g.get("versions") or []]
                preferred = str((g.get("preferredVersion") or {}).get("groupVersion") or "")
                for gv in [preferred, *versions] if version == "*" else [f"{g.get('name')}/{version}"]:
                    if gv and gv not in candidates:
                        candidates.append(gv)
            if group in ("*", ""):
                candidates.insert(0, "v1" if version == "*" else version)
        for api_version in candidates:
            try:
                return self.kube.resource(api_version, kind)
            except APIError as exc:
                if not exc.not_found:
                    raise
        log.warning("match kind not served; not scanned", extra={"kind": selector})
        return None


class Scanner:
    def __init__(self, kube: Kube, engine: Engine, policies: PolicyCache, stop: threading.Event, *,
                 interval: float = 3600.0, debounce: float = 1.0, workers: int = 2, writers: int = 4,
                 max_pending: int = 1000, openreports: bool = False, watch_seconds: int = 60,
                 backoff: float = 0.5, counters: Any = None, kind_policies: KindPolicies | None = None,
                 exceptions: Callable[[], list[Any]] | None = None, registries: Any = None, namespace: str = ""):
        self.kube, self.engine, self.policies, self.stop_event = kube, engine, policies, stop
        self.interval, self.debounce, self.workers, self.watch_seconds = interval, debounce, workers, watch_seconds
        self.counters = counters
        self.writer = ReportWriter(kube, openreports, stop, writers=writers, max_pending=max_pending,
                                   backoff=backoff, on_write=self._on_write)
        self.openreports = openreports
        self.resolve = KindResolver(kube)
        self.queue = WorkQueue(base_delay=backoff)
        self.data_source = KubeDataSource(kube, namespace)
        self.registries = registries
        #: the cluster's kyverno.io PolicyExceptions (a matching one makes a rule's result a skip)
        self.exceptions = exceptions or (lambda: [])
        #: ValidatingPolicies (``kindscan.py``), when the controller reads them
        self.kinds = KindScan(kube, engine, kind_policies, self.data_source, stop, watch_seconds=watch_seconds,
                              registries=registries) if kind_policies is not None else None
        self._kind_applicable: dict[tuple[str, str, str], list[Any]] = {}
        self._lock = threading.Lock()
        #: resources watched, by uid (the informers' own objects), and their resource
        self._objects: dict[str, tuple[Resource, dict[str, Any]]] = {}
        self._by_kind: dict[tuple[str, str], set[str]] = {}
        self._informers: dict[tuple[str, str], Informer] = {}
        self._namespaces: dict[str, dict[str, str]] = {}
        #: scanned policies applying to each (kind, namespace) (one list object each, so the engine's plan
        #: cache keeps it), rebuilt on policy changes
        self._applicable: dict[tuple[str, str], list[PreparedPolicy]] = {}
        #: uids due for a full scan (policy change, interval) whatever their report says
        self._full: set[str] = set()
        self.scans = 0
        self.evaluations = 0
        self.synced = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> "Scanner":
        """Watch namespaces, read the reports, then watch the policies' kinds; returns once under way."""
        ns_informer = Informer(self.kube, self.kube.resource("v1", "Namespace"), self._namespace_event,
                               self.stop_event, watch_seconds=self.watch_seconds).start()
        while not ns_informer.synced.wait(0.2):
            if self.stop_event.is_set():
                return self
        if self.kinds is not None:
            self.kinds.listeners.append(self.exceptions_changed)
            informers = [i.start() for i in self.kinds.informers()]
            for informer in informers:
                while not informer.synced.wait(0.2):
                    if self.stop_event.is_set():
                        return self
        with self._lock:
            namespaces = sorted(self._namespaces)
        known = self.writer.load(namespaces)
        log.info("reports read", extra={"reports": known})
        self.writer.start()
        self.policies.listeners.append(self.on_policy)  # first: a policy arriving now is not missed
        for prepared in self.policies.all():
            self.on_policy("SYNC", prepared.policy.key, prepared, None)
        if self.kinds is not None:
            self.kinds.policies.listeners.append(self.on_kind_policy)
            for policy in self.kinds.policies.all():
                self.on_kind_policy("SYNC", policy.key, policy, None)
        for n in range(self.workers):
            threading.Thread(target=self._worker, name=f"verno-scan-{n}", daemon=True).start()
        threading.Thread(target=self._ticker, name="verno-scan-interval", daemon=True).start()
        self.synced.set()
        return self

    def close(self) -> None:
        self.queue.close()
        self.writer.close()

    def depth(self) -> int:
        return self.queue.depth() + self.writer.pending()

    # -- events ---------------------------------------------------------------------------------------------
    def _namespace_event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        with self._lock:
            if kind == "DELETED":
                self._namespaces.pop(name, None)
            else:
                self._namespaces[name] = dict(meta.get("labels") or {})
        if self.kinds is not None:
            self.kinds.namespace_event(kind, obj)

    def on_policy(self, kind: str, key: str, new: PreparedPolicy | None, old: PreparedPolicy | None) -> None:
        """A policy added, changed or deleted: its kinds (old and new) watched and scanned again in full."""
        touched = [p for p in (new, old) if p is not None and scanned(p)]
        if not touched:
            return
        with self._lock:
            self._applicable = {}
        resources: list[Resource] = []
        for prepared in touched:
            for selector in match_kinds(prepared):
                res = self.resolve(selector)
                if res is not None and res not in resources:
                    resources.append(res)
        self._rescan(resources)

    def on_kind_policy(self, kind: str, key: str, new: Any, old: Any) -> None:
        """A ValidatingPolicy added, changed or deleted: its resources (old and new) watched and scanned
        again in full."""
        assert self.kinds is not None
        touched = [p for p in (new, old) if p is not None and kind_scanned(p)]
        self.kinds.policy_changed()
        with self._lock:
            self._kind_applicable = {}
        resources: list[Resource] = []
        for policy in touched:
            for res in self.kinds.resources(policy):
                if res not in resources:
                    resources.append(res)
        self._rescan(resources)

    def exceptions_changed(self) -> None:
        """A PolicyException added, changed or deleted: every watched resource scanned again in full (after
        the debounce: a burst of changes makes one pass)."""
        with self._lock:
            uids = list(self._objects)
            self._full.update(uids)
        for uid in uids:
            self.queue.add_after(uid, self.debounce)

    def _rescan(self, resources: list[Resource]) -> None:
        for res in resources:
            if self._watch(res):
                continue  # newly watched: its list enqueues every object
            with self._lock:
                uids = list(self._by_kind.get((res.api_version, res.kind), ()))
                self._full.update(uids)
            for uid in uids:
                self.queue.add(uid)

    def _watch(self, res: Resource) -> bool:
        """Start watching ``res`` (True), or False when it is watched already."""
        key = (res.api_version, res.kind)
        with self._lock:
            if key in self._informers:
                return False
            informer = Informer(self.kube, res, self._resource_event(res), self.stop_event,
                                watch_seconds=self.watch_seconds)
            self._informers[key] = informer
        log.info("watching for background scans", extra={"kind": f"{res.api_version}/{res.kind}"})
        informer.start()
        return True

    def _resource_event(self, res: Resource) -> Callable[[str, dict[str, Any]], None]:
        kind_key = (res.api_version, res.kind)

        def handle(kind: str, obj: dict[str, Any]) -> None:
            uid = str((obj.get("metadata") or {}).get("uid") or "")
            if not uid:
                return
            with self._lock:
                if kind == "DELETED":
                    self._objects.pop(uid, None)
                    self._by_kind.get(kind_key, set()).discard(uid)
                    self._full.discard(uid)
                else:
                    self._objects[uid] = (res, obj)
                    self._by_kind.setdefault(kind_key, set()).add(uid)
            if kind == "DELETED":
                self.writer.forget(uid)
            elif kind == "SYNC":
                self.queue.add(uid)
            else:
                self.queue.add_after(uid, self.debounce)
        return handle

    def _ticker(self) -> None:
        while not self.stop_event.wait(self.interval):
            with self._lock:
                uids = list(self._objects)
                self._full.update(uids)
            log.info("periodic background scan", extra={"resources": len(uids)})
            for uid in uids:
                self.queue.add(uid)

    # -- scanning -------------------------------------------------------------------------------------------
    def _worker(self) -> None:
        while not self.stop_event.is_set():
            uid = self.queue.get(timeout=0.5)
            if uid is None:
                continue
            try:
                self.scan(uid)
                self.queue.forget(uid)
            except Exception as exc:
                if not self.stop_event.is_set():
                    log.warning("background scan failed; retrying", extra={"resource_uid": uid, "error": str(exc)})
                    self._count("scans", "failed")
                    self.queue.retry(uid)
            finally:
                self.queue.done(uid)

    def applicable(self, kind: str, namespace: str) -> list[PreparedPolicy]:
        """The scanned policies with rules for ``kind`` that may apply in ``namespace`` (ClusterPolicies, and
        the namespace's own Policies)."""
        with self._lock:
            found = self._applicable.get((kind, namespace))
        if found is None:
            found = [p for p in self.policies.all()
                     if scanned(p) and p.policy.namespace in ("", namespace)
                     and any(p.candidates(phase, kind) for phase in PHASES)]
            found.sort(key=lambda p: p.policy.key)
            with self._lock:
                found = self._applicable.setdefault((kind, namespace), found)
        return found

    def kind_applicable(self, res: Resource, namespace: str) -> list[Any]:
        """The scanned ValidatingPolicies selecting ``res`` that may apply in ``namespace``."""
        if self.kinds is None:
            return []
        key = (res.group, res.plural, namespace)
        with self._lock:
            found = self._kind_applicable.get(key)
        if found is None:
            found = self.kinds.applicable(res, namespace)
            with self._lock:
                found = self._kind_applicable.setdefault(key, found)
        return found

    def policy_mark(self, prepared: PreparedPolicy) -> str:
        """The value of a policy's report label: what verno loaded of it (its fingerprint, cut), which a
        status write or a restart does not change, unlike its resourceVersion."""
        loaded = self.policies.loaded(prepared.policy.key)
        return (loaded.fingerprint if loaded is not None else "")[:MARK_LENGTH]

    def scan(self, uid: str) -> str:
        """Scan one resource: ``skipped`` (its report is current), ``unchanged`` (evaluated, nothing to
        write), ``written`` (a report queued for writing or deletion) or ``gone``."""
        with self._lock:
            entry = self._objects.get(uid)
            full = uid in self._full
            self._full.discard(uid)
        if entry is None:
            return "gone"
        res, obj = entry
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return "gone"
        policies = self.applicable(res.kind, str(meta.get("namespace") or "") if res.namespaced else "")
        kind_policies = self.kind_applicable(res, str(meta.get("namespace") or "") if res.namespaced else "")
        labels = {"audit.kyverno.io/resource.hash": resource_hash(obj)}
        for prepared in policies:
            labels[policy_label(prepared.policy.kind, prepared.policy.name)] = self.policy_mark(prepared)
        for policy in kind_policies:
            labels[policy_label(policy.kind, policy.name)] = self.kinds.mark(policy)  # type: ignore[union-attr]
        known = self.writer.known(uid)
        now = time.time()
        if known is not None and not full and known.labels == labels and now - known.scanned < self.interval:
            self._count("scans", "skipped")
            return "skipped"
        if known is None and not policies and not kind_policies:
            self._count("scans", "skipped")
            return "skipped"
        started = time.perf_counter()
        results = self._evaluate(obj, policies, res, int(now))
        if kind_policies:
            results += self.kinds.evaluate(_typed(obj, res), kind_policies, int(now))  # type: ignore[union-attr]
        self.evaluations += 1
        if self.counters is not None:
            self.counters.scan_seconds.inc(by=time.perf_counter() - started)
            for result in results:
                self.counters.results.inc(result["result"])
        namespace = str(meta.get("namespace") or "") if res.namespaced else ""
        if not results:
            if known is None:
                self._count("scans", "unchanged")
                return "unchanged"
            self.writer.put(uid, None, namespace, res.namespaced)
            self._count("scans", "written")
            return "written"
        if known is not None and known.labels == labels and known.digest == results_digest(results):
            self.writer.touch(uid, now)
            self._count("scans", "unchanged")
            return "unchanged"
        report = build_report(obj, res.namespaced, results, labels, now, self.openreports)
        self.writer.put(uid, report, namespace, res.namespaced)
        self._count("scans", "written")
        return "written"

    def _evaluate(self, obj: dict[str, Any], policies: list[PreparedPolicy], res: Resource,
                  now: int) -> list[dict[str, Any]]:
        if not policies:
            return []
        meta = obj.get("metadata") or {}
        if res.kind == "Namespace":
            ns_labels = dict(meta.get("labels") or {})
        else:
            with self._lock:
                ns_labels = dict(self._namespaces.get(str(meta.get("namespace") or ""), {}))
        request = Request(_typed(obj, res), None, "CREATE", None, namespace_labels=ns_labels)
        sources = Sources(cluster=self.data_source, registry_access=self.registries is not None,
                          registry_client=self.registries)
        if self.registries is not None:
            sources.egress = self.registries.egress
        responses = self.engine.evaluate(policies, request, sources=sources, phases=PHASES,
                                         exceptions=self.exceptions())
        results: list[dict[str, Any]] = []
        for response in responses:
            for rule in response.rules:
                results.append(report_entry(response, rule, report_result(response, rule), now, resources=False,
                                            process=BACKGROUND_SCAN))
        return results

    def _count(self, counter: str, *values: str) -> None:
        self.scans += counter == "scans"
        if self.counters is not None:
            getattr(self.counters, counter).inc(*values)

    def _on_write(self, action: str) -> None:
        if self.counters is not None:
            self.counters.writes.inc(action)


def _typed(obj: dict[str, Any], res: Resource) -> dict[str, Any]:
    """The object with its apiVersion and kind (a list's items may leave them out)."""
    return obj if obj.get("apiVersion") and obj.get("kind") else {**obj, "apiVersion": res.api_version, "kind": res.kind}
