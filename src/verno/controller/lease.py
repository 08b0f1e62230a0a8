"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics and Kyverno's timings.

Every retry period (jittered) a candidate reads the Lease: absent -> create it; held by another and not
expired -> wait; otherwise PUT the new record carrying the read ``resourceVersion`` (409: another candidate
won). Expiry is judged on the local monotonic time at which the record was last seen to change plus its
``leaseDurationSeconds``, never on the ``renewTime`` value, so clock skew between replicas does not matter.
The leader renews the same way; when it cannot renew within the renew deadline it has lost the lease.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from typing import Any, Callable

from verno.controller.kube import APIError, Kube, Resource

log = logging.getLogger("verno.controller.lease")

#: Kyverno: everything derives from a 2 s retry period; lease duration 6x, renew deadline 5x
RETRY_PERIOD = 2.0
LEASE_DURATION = 12
RENEW_DEADLINE = 10.0
JITTER = 1.2


def micro_time(now: dt.datetime | None = None) -> str:
    """MicroTime: RFC 3339 in UTC with exactly six fractional digits."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate. The Lease is read and written as raw JSON (``Kube``), so MicroTime values go out
    exactly as formatted here (the typed client re-renders them as ``+00:00``)."""

    def __init__(self, kube: Kube, namespace: str, name: str, identity: str, *,
                 lease_duration: int = LEASE_DURATION, renew_deadline: float = RENEW_DEADLINE,
                 retry_period: float = RETRY_PERIOD, clock: Callable[[], float] = time.monotonic):
        if not lease_duration > renew_deadline > JITTER * retry_period:
            raise ValueError("leader election needs lease duration > renew deadline > 1.2 x retry period")
        self.kube = kube
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.clock = clock
        self._observed_raw: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.holder = ""
        self.is_leader = threading.Event()
        self.lost = threading.Event()
        #: set once the Lease was read or written: the API server is reachable and the candidate in the race
        self.reached = threading.Event()
        self._res: Resource | None = None

    @property
    def res(self) -> Resource:
        if self._res is None:
            self._res = self.kube.resource("coordination.k8s.io/v1", "Lease")
        return self._res

    # -- one attempt ------------------------------------------------------------------------------------
    def _spec(self, acquire: str, renew: str, transitions: int) -> dict[str, Any]:
        return {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_duration,
                "acquireTime": acquire, "renewTime": renew, "leaseTransitions": transitions}

    @staticmethod
    def _raw(spec: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(spec.get(k) for k in ("holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime",
                                           "leaseTransitions"))

    def try_acquire_or_renew(self) -> bool:
        now = micro_time()
        try:
            lease = self.kube.get(self.res, self.namespace, self.name)
        except APIError as exc:
            log.warning("lease read failed", extra={"lease": self.name, "error": str(exc)})
            return False
        self.reached.set()
        if lease is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": self._spec(now, now, 0)}
            return self._write(lambda: self.kube.create(self.res, self.namespace, body))
        spec = lease.get("spec") or {}
        raw = self._raw(spec)
        if raw != self._observed_raw:
            self._observed_raw, self._observed_at = raw, self.clock()
        self.holder = str(spec.get("holderIdentity") or "")
        mine = self.holder == self.identity
        duration = int(spec.get("leaseDurationSeconds") or self.lease_duration)
        if self.holder and not mine and self.clock() < self._observed_at + duration:
            return False  # held by another, not expired
        acquire = str(spec.get("acquireTime")) if mine and spec.get("acquireTime") else now
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine or not self.holder else 1)
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "resourceVersion": (lease.get("metadata") or {}).get("resourceVersion")},
                "spec": self._spec(acquire, now, transitions)}
        return self._write(lambda: self.kube.replace(self.res, self.namespace, body))

    def _write(self, call: Callable[[], Any]) -> bool:
        try:
            lease = call()
        except APIError as exc:  # 409: another candidate wrote first
            if exc.code != 409:
                log.warning("lease write failed", extra={"lease": self.name, "error": str(exc)})
            return False
        self._observed_raw = self._raw(lease.get("spec") or {})
        self._observed_at = self.clock()
        self.holder = self.identity
        return True

    # -- the loop ---------------------------------------------------------------------------------------
    def _sleep(self, stop: threading.Event) -> None:
        stop.wait(self.retry_period * (1 + random.random() * JITTER))

    def run(self, stop: threading.Event) -> None:
        """Acquire, then renew until ``stop`` or until renewing fails for the renew deadline (``lost``)."""
        while not stop.is_set():
            if self.try_acquire_or_renew():
                break
            self._sleep(stop)
        if stop.is_set():
            return
        log.info("became leader", extra={"lease": self.name, "identity": self.identity})
        self.is_leader.set()
        last_renew = self.clock()
        while not stop.is_set():
            stop.wait(self.retry_period)
            if stop.is_set():
                return
            if self.try_acquire_or_renew():
                last_renew = self.clock()
            elif self.clock() - last_renew > self.renew_deadline or (self.holder and self.holder != self.identity):
                log.error("lost the lease", extra={"lease": self.name, "identity": self.identity,
                                                   "holder": self.holder})
                self.is_leader.clear()
                self.lost.set()
                return
