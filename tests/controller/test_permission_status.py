"""A 403 while writing a policy's downstream becomes the policy's PermissionDenied condition (verb, kind and
namespace named; Ready untouched), goes False/Allowed once the write succeeds, and no write happens when
nothing changed; the remembered denials are bounded per policy."""
from __future__ import annotations

import time
from typing import Any

from controller.harness import wait_for
from controller.policies import NETPOL
from controller.test_generate import namespace, netpol, no_requests_left, request_for
from verno.controller.denials import MAX_PER_POLICY, Denials
from verno.controller.policystatus import desired_status


def _condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def _policy(cluster) -> dict[str, Any] | None:
    return cluster.get("kyverno.io/v1", "ClusterPolicy", "add-networkpolicy")


def _status_puts(server: Any) -> int:
    return sum(1 for verb, path in list(server.audit) if verb == "PUT" and path.endswith("/add-networkpolicy/status"))


def test_denied_create_sets_the_condition_and_allowing_clears_it(cluster, controllers):
    cluster.create(NETPOL)
    denial = cluster.deny("create", "networking.k8s.io", "networkpolicies", "locked")
    controllers()
    ready = wait_for(lambda: _condition(_policy(cluster), "Ready"), what="Ready")
    assert _condition(_policy(cluster), "PermissionDenied") is None  # never denied: no condition

    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "locked"))
    denied = wait_for(lambda: _condition(_policy(cluster), "PermissionDenied"), what="PermissionDenied")
    assert (denied["status"], denied["reason"], denied["message"]) == (
        "True", "Forbidden", "verno lacks permission to create NetworkPolicy in namespace locked")
    assert _condition(_policy(cluster), "Ready") == ready  # the policy itself loaded

    cluster.allow(denial)
    request_for(cluster, "add-networkpolicy", "default-deny", cluster.get("v1", "Namespace", "locked"))
    allowed = wait_for(lambda: (c := _condition(_policy(cluster), "PermissionDenied")) and c["status"] == "False" and c,
                       what="PermissionDenied cleared")
    assert netpol(cluster, "locked") is not None
    assert (allowed["reason"], allowed["message"]) == ("Allowed", "verno's later writes for this policy were allowed")
    assert allowed["lastTransitionTime"] >= denied["lastTransitionTime"]
    assert _condition(_policy(cluster), "Ready") == ready

    # another allowed write changes nothing: no status write
    wait_for(lambda: no_requests_left(cluster), what="the requests done")
    puts, version = _status_puts(cluster), _policy(cluster)["metadata"]["resourceVersion"]
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "open"))
    wait_for(lambda: netpol(cluster, "open"), what="default-deny in open")
    wait_for(lambda: no_requests_left(cluster), what="the request done")
    time.sleep(1.0)  # the status queue drains in milliseconds
    assert _status_puts(cluster) == puts
    assert _policy(cluster)["metadata"]["resourceVersion"] == version


def test_condition_flips_with_its_transition_time_and_lists_every_denial():
    obj: dict[str, Any] = {"kind": "ClusterPolicy", "metadata": {"name": "p"}, "spec": {"rules": []}}
    def at(year: int):
        return lambda: f"{year}-01-01T00:00:00Z"

    assert "PermissionDenied" not in str(desired_status(obj, None, "broken", clock=at(2020), denied=[]))
    denied = desired_status(obj, None, "broken", clock=at(2030),
                            denied=[("update", "Secret", "b"), ("create", "Namespace", "")])
    cond = _condition({"status": denied}, "PermissionDenied")
    assert cond == {"type": "PermissionDenied", "status": "True", "lastTransitionTime": "2030-01-01T00:00:00Z",
                    "reason": "Forbidden", "message": "verno lacks permission to create Namespace at the cluster "
                                                      "scope; verno lacks permission to update Secret in namespace b"}
    same = desired_status({**obj, "status": denied}, None, "broken", clock=at(2040),
                          denied=[("create", "Namespace", "")])
    assert _condition({"status": same}, "PermissionDenied")["lastTransitionTime"] == "2030-01-01T00:00:00Z"
    kept = desired_status({**obj, "status": denied}, None, "broken", clock=at(2050), denied=None)
    assert kept == denied  # nothing known (a restart): kept as it is
    cleared = desired_status({**obj, "status": denied}, None, "broken", clock=at(2060), denied=[])
    assert _condition({"status": cleared}, "PermissionDenied") == {
        "type": "PermissionDenied", "status": "False", "lastTransitionTime": "2060-01-01T00:00:00Z",
        "reason": "Allowed", "message": "verno's later writes for this policy were allowed"}


def test_denials_are_bounded_and_cleared_per_verb_kind_and_namespace():
    denials, changed = Denials(), []
    denials.listeners.append(changed.append)
    assert denials.of("p") is None
    for n in range(MAX_PER_POLICY + 5):
        denials.denied("p", "create", "NetworkPolicy", f"ns{n}")
    kept = denials.of("p")
    assert len(kept) == MAX_PER_POLICY and kept[0] == ("create", "NetworkPolicy", "ns5")
    denials.denied("p", "create", "NetworkPolicy", "ns6")  # already known: no change
    assert len(changed) == MAX_PER_POLICY + 5
    denials.allowed("p", ("get", "update"), "NetworkPolicy", "ns7")  # another verb: still denied
    assert ("create", "NetworkPolicy", "ns7") in denials.of("p") and len(changed) == MAX_PER_POLICY + 5
    denials.allowed("p", ("get", "create"), "NetworkPolicy", "ns7")
    assert ("create", "NetworkPolicy", "ns7") not in denials.of("p") and changed[-1] == "p"
    denials.forget("p")
    assert denials.of("p") is None
