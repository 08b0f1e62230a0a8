"""Leader election through a coordination.k8s.io/v1 Lease in the stand-in: create, renew, wait while held,
take over after expiry (judged on local observation time), optimistic concurrency; one working replica."""
from __future__ import annotations

import re
import threading

import pytest
from kubernetes import client

from controller.harness import NAMESPACE, wait_for
from controller.policies import NETPOL
from controller.test_generate import namespace, netpol, request_for
from verno.controller.kube import Kube
from verno.controller.lease import LeaderElector, micro_time

MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(api_client, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(Kube(api_client), NAMESPACE, "verno-controller", identity, lease_duration=12,
                         renew_deadline=10, retry_period=2, clock=clock)


def lease(api_client):
    return client.CoordinationV1Api(api_client).read_namespaced_lease("verno-controller", NAMESPACE)


def test_micro_time_always_has_six_fractional_digits():
    import datetime as dt
    assert micro_time(dt.datetime(2026, 8, 21, 8, 56, 13, tzinfo=dt.timezone.utc)) == "2026-08-21T08:56:13.000000Z"


def test_timings_are_checked():
    with pytest.raises(ValueError, match="lease duration > renew deadline"):
        LeaderElector(None, "ns", "l", "me", lease_duration=10, renew_deadline=10, retry_period=2)


def test_acquire_renew_wait_and_take_over_after_expiry(cluster, api_client):
    clock = Clock()
    a, b = elector(api_client, "a", clock), elector(api_client, "b", clock)
    assert a.try_acquire_or_renew()
    first = lease(api_client)
    assert first.spec.holder_identity == "a" and first.spec.lease_transitions == 0
    raw = cluster.get("coordination.k8s.io/v1", "Lease", "verno-controller", NAMESPACE)["spec"]  # as stored
    assert MICRO.match(raw["renewTime"]) and MICRO.match(raw["acquireTime"])
    assert not b.try_acquire_or_renew()  # held and fresh
    clock.now += 5
    assert a.try_acquire_or_renew()  # renew keeps acquireTime and transitions
    renewed = lease(api_client)
    assert renewed.spec.acquire_time == first.spec.acquire_time and renewed.spec.lease_transitions == 0
    assert int(renewed.metadata.resource_version) > int(first.metadata.resource_version)
    # b first sees the renewed record at 1016: for b it expires at 1016 + 12, whatever renewTime says
    clock.now += 11
    assert not b.try_acquire_or_renew()
    clock.now += 11
    assert not b.try_acquire_or_renew()
    clock.now += 2
    assert b.try_acquire_or_renew()
    taken = lease(api_client)
    assert taken.spec.holder_identity == "b" and taken.spec.lease_transitions == 1
    assert not a.try_acquire_or_renew()  # the old holder sees b's fresh record


def test_concurrent_candidates_one_wins_by_resource_version(cluster, api_client):
    clock = Clock()
    a = elector(api_client, "a", clock)
    assert a.try_acquire_or_renew()
    candidates = [elector(api_client, f"c{i}", clock) for i in range(4)]
    assert not any(c.try_acquire_or_renew() for c in candidates)  # each observes a's record now
    clock.now += 100  # a stopped renewing: expired for every candidate
    results: list[bool] = []
    barrier = threading.Barrier(len(candidates))

    def attempt(c: LeaderElector) -> None:
        barrier.wait()
        results.append(c.try_acquire_or_renew())

    threads = [threading.Thread(target=attempt, args=(c,)) for c in candidates]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # each PUT carries the resourceVersion it read: one wins, the others get 409 (or see the new holder)
    assert results.count(True) == 1
    taken = lease(api_client)
    assert taken.spec.holder_identity in {c.identity for c in candidates}
    assert taken.spec.lease_transitions == 1


def test_only_the_leader_works_and_a_standby_takes_over(cluster, controllers):
    cluster.create(NETPOL)
    first = controllers(identity="one")
    wait_for(lambda: first.controller.working.is_set(), what="first controller leading")
    second = controllers(identity="two")
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "a"))
    wait_for(lambda: netpol(cluster, "a"))
    assert not second.controller.working.is_set()
    wait_for(lambda: first.controller.processed == 1, what="request completed by the leader")
    assert second.controller.processed == 0
    first.controller.stop()  # gone without releasing the Lease, as a killed process
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "b"))
    wait_for(lambda: second.controller.working.is_set(), timeout=10, what="standby leading")
    wait_for(lambda: netpol(cluster, "b"), what="work finished by the new leader")
    wait_for(lambda: second.controller.processed >= 1, what="request completed by the new leader")


def test_a_leader_that_finds_the_lease_taken_stops_working(cluster, controllers):
    running = controllers(identity="deposed")
    wait_for(lambda: running.controller.working.is_set(), what="leading")
    stored = cluster.get("coordination.k8s.io/v1", "Lease", "verno-controller", NAMESPACE)
    stored["spec"]["holderIdentity"] = "usurper"
    stored["spec"]["renewTime"] = "2099-01-01T00:00:00.000000Z"
    kube = Kube(running.controller.api)
    kube.replace(kube.resource("coordination.k8s.io/v1", "Lease"), NAMESPACE, stored)
    wait_for(lambda: running.exit_code == 1, what="the deposed leader stopped (exit code 1)")
    assert running.controller.stop_event.is_set()
