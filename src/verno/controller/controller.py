"""``verno controller``: leader election, then the informers and workers of the leader.

Work items are UpdateRequests (the durable hand-off records) keyed by name. A worker re-reads the record,
processes it when Pending (or Failed, on its backoff), writes ``Completed`` with the generated resources and
deletes it; a failure writes ``Failed`` with the message and ``retryCount`` and is retried with backoff;
past ``MAX_RETRIES`` the record is deleted and an Event on the policy says why. The leader also writes each
ClusterPolicy's and Policy's status (``policystatus``).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from verno.controller.cel_mutate import CelMutator
from verno.controller.deleting import DeletionScheduler
from verno.controller.denials import Denials
from verno.controller.events import EventRecorder
from verno.controller.exceptions import ExceptionCache
from verno.controller.generate import GenerateFailed, Generator
from verno.controller import kindscan
from verno.core.egress import EgressPolicy
from verno.registry import Registries
from verno.registry.access import configured_pool
from verno.controller.generating import CelGenerator, GeneratingPolicies
from verno.controller.kindpolicies import KindPolicies
from verno.controller.informer import Informer
from verno.controller.kube import APIError, Kube, api_client
from verno.controller.lease import LeaderElector
from verno.controller.metrics import Metrics
from verno.controller.metrics import serve as serve_http
from verno.controller.mutate_existing import Mutator
from verno.controller.mutate_triggers import MutateTriggers
from verno.controller.policies import PolicyCache
from verno.controller.policystatus import StatusWriter
from verno.controller.scanner import ScanCounters, Scanner
from verno.controller.triggers import Triggers
from verno.controller.workqueue import WorkQueue
from verno.core.engine import Engine
from verno.core.updaterequest import (
    API_VERSION, CEL_GENERATE, CEL_MUTATE, COMPLETED, FAILED, KIND, MAX_RETRIES, MUTATE, PENDING, awaiting_status,
    request_type,
    state_of,
)

log = logging.getLogger("verno.controller")

LEASE_NAME = "verno-controller"
#: seconds a policy-deletion request may wait for its status (then it runs, naming nothing to delete)
STATUS_GRACE = 60.0


def _age(obj: dict[str, Any]) -> float:
    stamp = str((obj.get("metadata") or {}).get("creationTimestamp") or "")
    try:
        created = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return 0.0
    return (dt.datetime.now(dt.timezone.utc) - created).total_seconds()


@dataclass
class ControllerSettings:
    kubeconfig: str | None = None
    in_cluster: bool = False
    namespace: str = "verno"
    workers: int = 4
    scan_interval: float = 3600.0
    leader_elect: bool = True
    identity: str = ""
    #: seconds a watch stream stays open before it is re-opened (the server closes it then)
    watch_seconds: int = 60
    lease_duration: int = 12
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    backoff: float = 0.5
    #: health and metrics endpoints (None: not served; 0: any free port)
    host: str = "127.0.0.1"
    port: int | None = None
    #: background scans: reports as openreports.io Report/ClusterReport, seconds a changed resource waits,
    #: scanning threads, report writes in flight
    openreports: bool = False
    scan_debounce: float = 1.0
    scan_workers: int = 2
    report_writers: int = 4
    #: registries ImageValidatingPolicies' background scans reach: CA file, plain HTTP, docker config.json
    #: credentials, and the egress fence's extra entries (``--allow-egress``), as ``verno serve`` takes them
    registry_ca: str | None = None
    allow_insecure_registry: bool = False
    docker_config: str | None = None
    allow_egress: list[str] = field(default_factory=list)


def default_namespace() -> str:
    return os.environ.get("POD_NAMESPACE") or "verno"


class Controller:
    def __init__(self, settings: ControllerSettings, engine: Engine | None = None):
        self.settings = settings
        self.api = api_client(settings.kubeconfig, settings.in_cluster)
        self.kube = Kube(self.api)
        self.engine = engine or Engine()
        self.stop_event = threading.Event()
        self.identity = settings.identity or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.queue = WorkQueue(base_delay=settings.backoff)
        self.policies = PolicyCache(self.engine)
        self.events = EventRecorder(self.kube)
        self.metrics = Metrics(self.queue.depth, self._leading)
        self.denials = Denials()
        self.generator = Generator(self.kube, self.engine, self.policies, self.events, self.metrics, self.denials)
        self.exceptions = ExceptionCache()
        self.mutator = Mutator(self.kube, self.engine, self.policies, self.events, self.metrics, self.denials,
                               self.exceptions.all, self.generator.written)
        self.cel_mutator = CelMutator(self.kube, self.engine, self.mutator, self.events, self.metrics, self.denials)
        self.mutate_triggers: MutateTriggers | None = None
        self.gpols = GeneratingPolicies(self.kube, self.engine, self.events)
        #: ValidatingPolicies, for background scans
        self.vpols = KindPolicies(self.kube, self.engine, self.events, kindscan.GROUP, kindscan.KINDS)
        self.cel_generator = CelGenerator(self.kube, self.engine, self.gpols, self.events, self.metrics, self.denials,
                                          settings.namespace, self.stop_event, watch_seconds=settings.watch_seconds)
        self.elector = LeaderElector(self.kube, settings.namespace, LEASE_NAME, self.identity,
                                     lease_duration=settings.lease_duration, renew_deadline=settings.renew_deadline,
                                     retry_period=settings.retry_period) if settings.leader_elect else None
        self.triggers: Triggers | None = None
        self.deleting: DeletionScheduler | None = None
        self.status: StatusWriter | None = None
        self.scanner: Scanner | None = None
        self.scan_counters = ScanCounters()
        self.metrics.extra.extend(self.scan_counters.all())
        self.working = threading.Event()
        self.processed = 0
        self._threads: list[threading.Thread] = []
        self.http: Any = None

    def _leading(self) -> bool:
        return self.working.is_set() and (self.elector is None or self.elector.is_leader.is_set())

    def ready(self) -> bool:
        return self.working.is_set() or (self.elector is not None and self.elector.reached.is_set())

    # -- lifecycle ------------------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until stopped (0) or until the lease is lost (1: the process should restart as a candidate)."""
        if self.settings.port is not None:
            self.http = serve_http(self.settings.host, self.settings.port, self.metrics, self.ready)
            log.info("health and metrics served", extra={"address": "%s:%s" % self.http.server_address[:2]})
        if self.elector is not None:
            elector = threading.Thread(target=self.elector.run, args=(self.stop_event,), name="verno-lease",
                                       daemon=True)
            elector.start()
            while not self.stop_event.is_set() and not self.elector.is_leader.is_set():
                self.stop_event.wait(0.1)
            if self.stop_event.is_set():
                return 0
        self._start_work()
        while not self.stop_event.is_set():
            if self.elector is not None and self.elector.lost.is_set():
                log.error("leadership lost; stopping work", extra={"identity": self.identity})
                self.stop()
                return 1
            self.stop_event.wait(0.2)
        return 0

    def stop(self) -> None:
        self.stop_event.set()
        self.queue.close()
        if self.status is not None:
            self.status.close()
        if self.scanner is not None:
            self.scanner.close()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
            self.http = None

    def _start_work(self) -> None:
        log.info("controller working", extra={"identity": self.identity, "workers": self.settings.workers,
                                              "namespace": self.settings.namespace})
        try:
            ur_res = self.kube.resource(API_VERSION, KIND)
            for kind in ("ClusterPolicy", "Policy"):
                self.kube.resource("kyverno.io/v1", kind)
        except APIError as exc:
            if exc.not_found:
                raise APIError(404, "NotFound", f"{exc.message}: install verno's CustomResourceDefinitions "
                                                "(deploy/helm/verno/crds) in the cluster") from None
            raise
        self.triggers = Triggers(self.kube, self.policies, self.settings.namespace, self.stop_event,
                                 self.generator.written, self.generator.deleted,
                                 watch_seconds=self.settings.watch_seconds)
        self.policies.listeners.append(self.triggers.on_policy)
        self.mutate_triggers = MutateTriggers(self.kube, self.policies, self.settings.namespace, self.triggers)
        self.policies.listeners.append(self.mutate_triggers.on_policy)
        self.status = StatusWriter(self.kube, self.policies, self.stop_event, backoff=self.settings.backoff,
                                   denials=self.denials).start()
        informers = [Informer(self.kube, self.kube.resource("kyverno.io/v1", kind), self._policy_event,
                              self.stop_event, watch_seconds=self.settings.watch_seconds)
                     for kind in ("ClusterPolicy", "Policy")]
        informers += self._exception_informers()
        informers += self.gpols.informers(self.stop_event, self.settings.watch_seconds)
        informers += self.vpols.informers(self.stop_event, self.settings.watch_seconds)
        for informer in informers:
            informer.start()
        for informer in informers:  # requests are processed against a complete policy set
            while not informer.synced.wait(0.2):
                if self.stop_event.is_set():
                    return
        self.scanner = self._scanner_for_reports()
        self.exceptions.listeners.append(self.scanner.exceptions_changed)
        self.scanner.start()
        self.ur_informer = Informer(self.kube, ur_res, self._ur_event, self.stop_event,
                                    watch_seconds=self.settings.watch_seconds).start()
        for n in range(self.settings.workers):
            t = threading.Thread(target=self._worker, name=f"verno-worker-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        threading.Thread(target=self._scanner, name="verno-scan", daemon=True).start()
        threading.Thread(target=self._find_downstream, name="verno-find-downstream", daemon=True).start()
        self.deleting = DeletionScheduler(self.kube, self.engine, self.events, self.metrics, self.stop_event,
                                          watch_seconds=self.settings.watch_seconds).start()
        self.working.set()

    def _registries(self) -> Registries:
        """The registry pool of background scans (ImageValidatingPolicies), behind the egress fence."""
        s = self.settings
        return configured_pool(docker_config=s.docker_config, registry_ca=s.registry_ca,
                               allow_insecure=s.allow_insecure_registry, egress=EgressPolicy.parse(s.allow_egress))

    def _scanner_for_reports(self) -> Scanner:
        s = self.settings
        try:
            return Scanner(self.kube, self.engine, self.policies, self.stop_event, interval=s.scan_interval,
                           debounce=s.scan_debounce, workers=s.scan_workers, writers=s.report_writers,
                           openreports=s.openreports, watch_seconds=s.watch_seconds, backoff=s.backoff,
                           counters=self.scan_counters, kind_policies=self.vpols, exceptions=self.exceptions.all,
                           registries=self._registries(), namespace=s.namespace)
        except APIError as exc:
            if exc.not_found:
                group = "openreports.io" if s.openreports else "wgpolicyk8s.io"
                raise APIError(404, "NotFound", f"{exc.message}: install the {group} report "
                                                "CustomResourceDefinitions (deploy/helm/verno/crds)") from None
            raise

    def _policy_event(self, kind: str, obj: dict[str, Any]) -> None:
        self.policies.event(kind, obj)
        if self.status is not None:
            self.status.event(kind, obj)

    def _exception_informers(self) -> list[Informer]:
        """PolicyExceptions, where the cluster serves them (they can skip mutateExisting rules)."""
        try:
            res = self.kube.resource("kyverno.io/v2", "PolicyException")
        except APIError as exc:
            if not exc.not_found:
                raise
            log.warning("PolicyExceptions not served; none apply", extra={"error": str(exc)})
            return []
        return [Informer(self.kube, res, self.exceptions.event, self.stop_event,
                         watch_seconds=self.settings.watch_seconds)]

    def _find_downstream(self) -> None:
        try:
            self.cel_generator.find_downstream_kinds()
        except Exception:
            log.exception("downstream kinds not found")

    def _scanner(self) -> None:
        while not self.stop_event.wait(self.settings.scan_interval):
            for triggers in (self.triggers, self.mutate_triggers, self.cel_generator):
                try:
                    assert triggers is not None
                    triggers.scan()
                except Exception:
                    log.exception("periodic scan failed")

    # -- update requests ------------------------------------------------------------------------------------
    def _ur_event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if kind == "DELETED" or (meta.get("namespace") or "") != self.settings.namespace:
            return
        state = state_of(obj)
        # a Failed record waits for its backoff; after a relist (a restart, a new leader) it is taken up again
        if state == PENDING or state == COMPLETED or (state == FAILED and kind == "SYNC"):
            self.queue.add(str(meta.get("name") or ""))

    def _worker(self) -> None:
        while not self.stop_event.is_set():
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            try:
                self._reconcile(key)
            except Exception as exc:
                if not self.stop_event.is_set():
                    log.warning("update request not reconciled; retrying", extra={"request": key, "error": str(exc)})
                    self.queue.retry(key)
            finally:
                self.queue.done(key)

    def _ur_res(self) -> Any:
        return self.kube.resource(API_VERSION, KIND)

    def _reconcile(self, name: str) -> None:
        res, ns = self._ur_res(), self.settings.namespace
        ur = self.kube.get(res, ns, name)
        if ur is None:
            self.queue.forget(name)
            return
        state = state_of(ur)
        if state == COMPLETED:
            self.kube.delete(res, ns, name)
            self.queue.forget(name)
            return
        if awaiting_status(ur) and _age(ur) < STATUS_GRACE:
            self.queue.retry(name)
            return
        started = time.perf_counter()
        try:
            kind = request_type(ur)
            processor = self.mutator if kind == MUTATE else self.cel_generator if kind == CEL_GENERATE else \
                self.cel_mutator if kind == CEL_MUTATE else self.generator
            generated = processor.process(ur)
        except GenerateFailed as exc:
            self._count(started)
            self._failed(ur, str(exc))
            return
        self._count(started)
        status = {**(ur.get("status") or {}), "state": COMPLETED, "message": "", "generatedResources": generated}
        self._write_status(ur, status)
        self.kube.delete(res, ns, name)
        self.queue.forget(name)
        self.processed += 1
        self.metrics.requests.inc("completed")
        log.info("update request completed", extra={"request": name, "policy": (ur.get("spec") or {}).get("policy"),
                                                    "generated": len(generated),
                                                    "seconds": round(time.perf_counter() - started, 4)})

    def _failed(self, ur: dict[str, Any], message: str) -> None:
        res, ns = self._ur_res(), self.settings.namespace
        name = str(ur["metadata"]["name"])
        retries = int((ur.get("status") or {}).get("retryCount") or 0) + 1
        policy = str((ur.get("spec") or {}).get("policy") or "")
        if retries > MAX_RETRIES:
            log.error("update request given up", extra={"request": name, "policy": policy, "error": message})
            involved = self.cel_generator.involved(policy) if request_type(ur) == CEL_GENERATE else None
            self.events.policy_warning(policy, f"{request_type(ur)} failed after {MAX_RETRIES} retries: {message}",
                                       involved=involved)
            self.metrics.requests.inc("given_up")
            self.kube.delete(res, ns, name)
            self.queue.forget(name)
            return
        log.warning("update request failed; retrying", extra={"request": name, "policy": policy,
                                                              "retry": retries, "error": message})
        self.metrics.requests.inc("failed")
        self._write_status(ur, {**(ur.get("status") or {}), "state": FAILED, "message": message,
                                "retryCount": retries})
        self.queue.retry(name)

    def _count(self, started: float) -> None:
        self.metrics.reconciles.inc()
        self.metrics.reconcile_seconds.inc(by=time.perf_counter() - started)

    def _write_status(self, ur: dict[str, Any], status: dict[str, Any]) -> None:
        body = {**ur, "status": status}
        self.kube.replace(self._ur_res(), self.settings.namespace, body, subresource="status")


def main_loop(settings: ControllerSettings, started: Any = None) -> int:
    """Run a controller process; ``started`` (logging, signals) is called once the credentials were read."""
    controller = Controller(settings)
    if started is not None:
        started()
    try:
        return controller.run()
    except APIError as exc:
        log.error("controller stopped", extra={"error": str(exc)})
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    finally:
        controller.stop()
