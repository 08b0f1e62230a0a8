"""One permanent report per resource, as Kyverno >= 1.10 keeps them, and the bounded writer that keeps them.

Layout (K: pkg/controllers/report/*, W: guides/reports.md): a namespaced resource's results live in a
``wgpolicyk8s.io/v1alpha2`` PolicyReport in its namespace, a cluster-scoped one's in a ClusterPolicyReport
(``openreports.io/v1alpha1`` Report / ClusterReport with ``--openreports``), named by the resource's UID, owned
by the resource (garbage collection removes the report with it), ``scope`` naming it, label
``app.kubernetes.io/managed-by: kyverno``. A report's size therefore follows one resource's results (policies x
rules that match it), never the number of resources in the cluster.

What was scanned is on the report itself, so a restarted controller or a new leader need not scan again:
label ``audit.kyverno.io/resource.hash`` (md5 of the resource's labels, annotations and body without
metadata and status, as Kyverno's), one label per policy evaluated (``cpol.kyverno.io/<name>`` /
``pol.kyverno.io/<name>``: its resourceVersion) and annotation ``audit.kyverno.io/last-scan-time``.

The writer holds, per report, only what deciding a write needs (:class:`Known`: its resourceVersion, scan
labels, a digest of its results without timestamps and the last scan time), never the reports themselves.
Writes go through a queue keyed by resource UID (a newer wanted report replaces one not yet written), worked
by a fixed number of threads (the writes in flight), and ``put`` blocks while ``max_pending`` wait (scans slow
down rather than memory growing). Every write carries the resourceVersion; a 409 re-reads and tries again.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from verno.controller.kube import APIError, Kube, Resource
from verno.controller.workqueue import WorkQueue
from verno.core.policyreport import summary

log = logging.getLogger("verno.controller.reports")

WGPOLICY = "wgpolicyk8s.io/v1alpha2"
OPENREPORTS = "openreports.io/v1alpha1"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_SELECTOR = f"{MANAGED_BY}=kyverno"
HASH_LABEL = "audit.kyverno.io/resource.hash"
LAST_SCAN = "audit.kyverno.io/last-scan-time"
#: the label domains of evaluated policies, by policy kind (Kyverno's ``cpol.``, ``pol.``)
POLICY_LABEL_DOMAINS = {"ClusterPolicy": "cpol.kyverno.io/", "Policy": "pol.kyverno.io/",
                        "ValidatingPolicy": "vpol.kyverno.io/", "NamespacedValidatingPolicy": "nvpol.kyverno.io/",
                        "ImageValidatingPolicy": "ivpol.kyverno.io/",
                        "NamespacedImageValidatingPolicy": "nivpol.kyverno.io/"}
#: a label key's name part is at most 63 characters
LABEL_NAME_MAX = 63
#: writes of one report tried before it goes back on the queue with backoff
CONFLICT_RETRIES = 5


def report_kinds(openreports: bool) -> tuple[tuple[str, str], tuple[str, str]]:
    """((apiVersion, namespaced kind), (apiVersion, cluster kind)) of the reports written."""
    if openreports:
        return (OPENREPORTS, "Report"), (OPENREPORTS, "ClusterReport")
    return (WGPOLICY, "PolicyReport"), (WGPOLICY, "ClusterPolicyReport")


def resource_hash(obj: dict[str, Any]) -> str:
    """Kyverno's resource hash: md5 of labels, annotations and the object without metadata and status."""
    meta = obj.get("metadata") or {}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    data = json.dumps([meta.get("labels") or {}, meta.get("annotations") or {}, body], sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.md5(data.encode(), usedforsecurity=False).hexdigest()


def policy_label(kind: str, name: str) -> str:
    """``cpol.kyverno.io/<name>`` or ``pol.kyverno.io/<name>``; a name longer than a label allows is cut and
    completed by a digest of the whole name (so two long names do not share a label)."""
    if len(name) > LABEL_NAME_MAX:
        name = f"{name[:LABEL_NAME_MAX - 11]}-{hashlib.sha1(name.encode()).hexdigest()[:10]}"
    return POLICY_LABEL_DOMAINS.get(kind, "cpol.kyverno.io/") + name


def is_scan_label(key: str) -> bool:
    return key == HASH_LABEL or any(key.startswith(d) for d in POLICY_LABEL_DOMAINS.values())


def results_digest(results: list[dict[str, Any]]) -> str:
    """What the results say, timestamps aside: equal digests need no write."""
    plain = sorted(json.dumps({k: v for k, v in r.items() if k != "timestamp"}, sort_keys=True, default=str)
                   for r in results)
    return hashlib.sha1("\n".join(plain).encode()).hexdigest()


def sort_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda r: (str(r.get("source")), str(r.get("policy")), str(r.get("rule"))))


def rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0


def build_report(resource: dict[str, Any], namespaced: bool, results: list[dict[str, Any]],
                 scan_labels: dict[str, str], scanned: float, openreports: bool) -> dict[str, Any]:
    """The report of one resource."""
    meta = resource.get("metadata") or {}
    (ns_api, ns_kind), (cluster_api, cluster_kind) = report_kinds(openreports)
    api_version, kind = (ns_api, ns_kind) if namespaced else (cluster_api, cluster_kind)
    uid = str(meta.get("uid") or "")
    scope = {"apiVersion": resource.get("apiVersion", ""), "kind": resource.get("kind", ""),
             "name": meta.get("name", ""), "uid": uid}
    report_meta: dict[str, Any] = {
        "name": uid,
        "labels": {MANAGED_BY: "kyverno", **scan_labels},
        "annotations": {LAST_SCAN: rfc3339(scanned)},
        "ownerReferences": [{"apiVersion": resource.get("apiVersion", ""), "kind": resource.get("kind", ""),
                             "name": meta.get("name", ""), "uid": uid}],
    }
    if namespaced:
        report_meta["namespace"] = meta.get("namespace") or ""
        scope["namespace"] = meta.get("namespace") or ""
    ordered = sort_results(results)
    report: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": report_meta}
    if openreports:
        report["source"] = "kyverno"
    report.update({"scope": scope, "summary": summary(ordered), "results": ordered})
    return report


@dataclass
class Known:
    """What the writer remembers of one report in the cluster."""
    namespace: str
    namespaced: bool
    resource_version: str
    labels: dict[str, str]
    digest: str
    scanned: float


def known_of(report: dict[str, Any], namespaced: bool) -> Known:
    meta = report.get("metadata") or {}
    labels = {k: str(v) for k, v in (meta.get("labels") or {}).items() if is_scan_label(k)}
    return Known(str(meta.get("namespace") or ""), namespaced, str(meta.get("resourceVersion") or ""), labels,
                 results_digest(report.get("results") or []),
                 parse_rfc3339(str((meta.get("annotations") or {}).get(LAST_SCAN) or "")))


@dataclass
class _Pending:
    report: dict[str, Any] | None  # None: delete
    namespace: str
    namespaced: bool


class ReportWriter:
    """The reports this controller keeps: what it knows of them, and the queue writing them."""

    def __init__(self, kube: Kube, openreports: bool, stop: threading.Event, *, writers: int = 4,
                 max_pending: int = 1000, backoff: float = 0.5, on_write: Any = None):
        self.kube, self.openreports, self.stop_event = kube, openreports, stop
        (ns_api, ns_kind), (cl_api, cl_kind) = report_kinds(openreports)
        self.namespaced_res: Resource = kube.resource(ns_api, ns_kind)
        self.cluster_res: Resource = kube.resource(cl_api, cl_kind)
        self.writers, self.max_pending = writers, max_pending
        self.queue = WorkQueue(base_delay=backoff)
        self._lock = threading.Condition()
        self._known: dict[str, Known] = {}
        self._pending: dict[str, _Pending] = {}
        #: ``on_write(action)`` after each write (created, updated, deleted, conflict, failed)
        self.on_write = on_write or (lambda action: None)
        self.writes = 0

    # -- what is known --------------------------------------------------------------------------------------
    def load(self, namespaces: list[str]) -> int:
        """Read the reports the cluster holds (once, at start), one namespace at a time (the reports of a
        whole cluster are never held at once, only what is kept of each): how many."""
        found: dict[str, Known] = {}
        for res, namespace in [(self.cluster_res, ""), *((self.namespaced_res, ns) for ns in namespaces)]:
            listed = self.kube.list(res, namespace, label_selector=MANAGED_BY_SELECTOR)
            for item in listed.get("items") or []:
                name = str((item.get("metadata") or {}).get("name") or "")
                if name:
                    found[name] = known_of(item, res.namespaced)
            del listed
        with self._lock:
            self._known = found
        return len(found)

    def known(self, uid: str) -> Known | None:
        with self._lock:
            return self._known.get(uid)

    def count(self) -> int:
        with self._lock:
            return len(self._known)

    def touch(self, uid: str, scanned: float) -> None:
        """``uid`` was evaluated at ``scanned`` and its report found current (remembered here only: the
        report's annotation keeps the time it was last written)."""
        with self._lock:
            known = self._known.get(uid)
            if known is not None:
                known.scanned = max(known.scanned, scanned)

    def forget(self, uid: str) -> None:
        """The resource is gone (its report goes with it by garbage collection)."""
        with self._lock:
            self._known.pop(uid, None)
            self._pending.pop(uid, None)

    # -- writing --------------------------------------------------------------------------------------------
    def start(self) -> "ReportWriter":
        for n in range(self.writers):
            threading.Thread(target=self._run, name=f"verno-report-writer-{n}", daemon=True).start()
        return self

    def close(self) -> None:
        self.queue.close()
        with self._lock:
            self._lock.notify_all()

    def put(self, uid: str, report: dict[str, Any] | None, namespace: str, namespaced: bool) -> None:
        """Queue the report of ``uid`` (None: delete it); waits while ``max_pending`` writes wait."""
        with self._lock:
            while (uid not in self._pending and len(self._pending) >= self.max_pending
                   and not self.stop_event.is_set()):
                self._lock.wait(0.5)
            self._pending[uid] = _Pending(report, namespace, namespaced)
        self.queue.add(uid)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            uid = self.queue.get(timeout=0.5)
            if uid is None:
                continue
            with self._lock:
                item = self._pending.get(uid)
            try:
                if item is not None:
                    self._write(uid, item)
                with self._lock:
                    if self._pending.get(uid) is item:
                        self._pending.pop(uid, None)
                        self._lock.notify_all()
                self.queue.forget(uid)
            except APIError as exc:
                if not self.stop_event.is_set():
                    self.on_write("failed")
                    log.warning("report not written; retrying", extra={"resource_uid": uid, "error": str(exc)})
                    self.queue.retry(uid)
            finally:
                self.queue.done(uid)

    def _res(self, namespaced: bool) -> Resource:
        return self.namespaced_res if namespaced else self.cluster_res

    def _write(self, uid: str, item: _Pending) -> None:
        res = self._res(item.namespaced)
        known = self.known(uid)
        if item.report is None:
            if known is not None:
                self.kube.delete(res, item.namespace, uid)
                self._count("deleted")
            with self._lock:
                self._known.pop(uid, None)
            return
        body = item.report
        for _ in range(CONFLICT_RETRIES):
            try:
                if known is None:
                    written = self.kube.create(res, item.namespace, body)
                    action = "created"
                else:
                    meta = {**body["metadata"], "resourceVersion": known.resource_version}
                    written = self.kube.replace(res, item.namespace, {**body, "metadata": meta})
                    action = "updated"
            except APIError as exc:
                if not (exc.conflict or exc.not_found):
                    raise
                # AlreadyExists (made elsewhere), Conflict (changed elsewhere), NotFound (deleted elsewhere):
                # read it again and write over what is there
                if exc.conflict and exc.reason != "AlreadyExists":
                    self._count("conflict")
                fresh = self.kube.get(res, item.namespace, uid)
                known = known_of(fresh, item.namespaced) if fresh is not None else None
                continue
            with self._lock:
                self._known[uid] = known_of({**written, "results": body.get("results")}, item.namespaced)
            self._count(action)
            return
        raise APIError(409, "Conflict", f"report {item.namespace}/{uid}: the write kept conflicting")

    def _count(self, action: str) -> None:
        if action in ("created", "updated", "deleted"):
            self.writes += 1
        self.on_write(action)
