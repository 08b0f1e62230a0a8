"""Policy status through the stand-in: the leader writes Ready True/False (with verno's load error), rule
counts and autogen rules, flips when the policy is fixed, writes nothing when nothing changed, retries a
conflicting write; ``kubectl get clusterpolicy`` shows READY and MESSAGE from it."""
from __future__ import annotations

import re
import threading
import time
from typing import Any

from kubernetes import client

from controller.harness import wait_for
from controller.policies import cluster_policy
from verno.controller.kube import Kube
from verno.controller.policies import PolicyCache
from verno.controller.policystatus import StatusWriter, desired_status
from verno.core.engine import Engine

NO_LATEST = {"name": "no-latest", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "validate": {"message": "no latest", "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}
TYPO = {**NO_LATEST, "validate": {"message": "no latest", "patern": {"spec": {}}}}
CPOL = ("kyverno.io", "v1", "clusterpolicies")


def _ready(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def _status_puts(server: Any, name: str) -> int:
    return sum(1 for verb, path in list(server.audit) if verb == "PUT" and path.endswith(f"/{name}/status"))


def test_ready_true_false_with_the_error_then_true_when_fixed(cluster, controllers, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, cluster_policy("good", NO_LATEST))
    custom.create_cluster_custom_object(*CPOL, cluster_policy("typo", TYPO))
    custom.create_namespaced_custom_object("kyverno.io", "v1", "default", "policies",
                                           {**cluster_policy("ns-good", NO_LATEST), "kind": "Policy"})
    running = controllers()

    good = wait_for(lambda: (o := cluster.get("kyverno.io/v1", "ClusterPolicy", "good")) and _ready(o) and o,
                    what="good's status")
    cond = _ready(good)
    assert (cond["status"], cond["reason"], cond["message"]) == ("True", "Succeeded", "Ready")
    assert cond["lastTransitionTime"].endswith("Z")
    assert "ready" not in good["status"]
    assert good["status"]["rulecount"] == {"validate": 1, "generate": 0, "mutate": 0, "verifyimages": 0}
    assert [r["name"] for r in good["status"]["autogen"]["rules"]] == ["autogen-no-latest", "autogen-cronjob-no-latest"]
    assert good["metadata"]["generation"] == 1  # a status write is no change of the policy

    ns_good = wait_for(lambda: _ready(cluster.get("kyverno.io/v1", "Policy", "ns-good", "default")),
                       what="the Policy's status")
    assert ns_good["status"] == "True"

    typo = wait_for(lambda: (o := cluster.get("kyverno.io/v1", "ClusterPolicy", "typo")) and _ready(o) and o,
                    what="typo's status")
    cond = _ready(typo)
    assert (cond["status"], cond["reason"]) == ("False", "Failed")
    assert cond["message"] == running.controller.policies.error("typo")
    assert "spec.rules[0].validate.patern: unknown field (did you mean pattern?)" in cond["message"]
    assert typo["status"]["rulecount"]["validate"] == 1 and typo["status"]["autogen"] == {}

    typo["spec"]["rules"] = [NO_LATEST]
    custom.replace_cluster_custom_object(*CPOL, "typo", typo)
    fixed = wait_for(lambda: (c := _ready(cluster.get("kyverno.io/v1", "ClusterPolicy", "typo")))
                     and c["status"] == "True" and c, what="typo fixed")
    assert (fixed["reason"], fixed["message"]) == ("Succeeded", "Ready")


def test_no_status_write_when_nothing_changed(cluster, controllers, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, cluster_policy("steady", NO_LATEST))
    running = controllers()
    before = wait_for(lambda: (o := cluster.get("kyverno.io/v1", "ClusterPolicy", "steady")) and _ready(o) and o,
                      what="steady's status")
    assert _status_puts(cluster, "steady") == 1
    loaded = running.controller.policies.loaded("steady").fingerprint

    # a label change is a new version the controller takes in, with the same status
    custom.patch_cluster_custom_object(*CPOL, "steady", {"metadata": {"labels": {"team": "a"}}})
    wait_for(lambda: running.controller.policies.loaded("steady").fingerprint != loaded, what="the relabel seen")
    labelled = cluster.get("kyverno.io/v1", "ClusterPolicy", "steady")
    time.sleep(1.5)  # the status queue drains in milliseconds
    after = cluster.get("kyverno.io/v1", "ClusterPolicy", "steady")
    assert _status_puts(cluster, "steady") == 1
    assert after["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]
    assert after["status"] == before["status"]


def test_conflicting_write_is_retried_on_the_fresh_object(cluster, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, cluster_policy("contested", NO_LATEST))
    obj = cluster.get("kyverno.io/v1", "ClusterPolicy", "contested")
    kube = Kube(api_client)
    cache = PolicyCache(Engine())
    writer = StatusWriter(kube, cache, threading.Event())
    cache.event("ADDED", obj)
    writer.event("ADDED", obj)
    # someone else writes the status meanwhile: the object the writer holds is now stale
    custom.replace_cluster_custom_object_status(*CPOL, "contested", {**obj, "status": {"ready": True}})
    writer.reconcile("ClusterPolicy/contested")
    assert _status_puts(cluster, "contested") == 3  # the other writer's, the 409, the retry
    final = cluster.get("kyverno.io/v1", "ClusterPolicy", "contested")
    assert _ready(final)["status"] == "True" and "ready" not in final["status"]
    assert writer.writes == 1


def test_last_transition_time_changes_only_when_the_status_flips():
    obj: dict[str, Any] = {"kind": "ClusterPolicy", "metadata": {"name": "p"}, "spec": {"rules": [NO_LATEST]},
                           "status": {"ready": False, "conditions": [
                               {"type": "Other", "status": "True"},
                               {"type": "Ready", "status": "False", "reason": "Failed", "message": "old error",
                                "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}
    failed = desired_status(obj, None, "new error", clock=lambda: "2030-01-01T00:00:00Z")
    assert failed["conditions"] == [{"type": "Other", "status": "True"},
                                    {"type": "Ready", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z",
                                     "reason": "Failed", "message": "new error"}]
    assert "ready" not in failed
    cache = PolicyCache(Engine())
    cache.event("ADDED", {**obj, "apiVersion": "kyverno.io/v1"})
    flipped = desired_status(obj, cache.get("p"), "", clock=lambda: "2030-01-01T00:00:00Z")
    assert flipped["conditions"][1] == {"type": "Ready", "status": "True", "lastTransitionTime": "2030-01-01T00:00:00Z",
                                        "reason": "Succeeded", "message": "Ready"}
    again = desired_status({**obj, "status": flipped}, cache.get("p"), "", clock=lambda: "2040-01-01T00:00:00Z")
    assert again == flipped


def _columns(out: str) -> list[dict[str, str]]:
    """kubectl's table as rows of header -> cell (cells cut at the headers' positions)."""
    header, *lines = out.splitlines()
    names = re.findall(r"\S+(?: \S+)*", header)
    starts = [header.index(n) for n in names] + [None]
    return [{n: line[starts[i]:starts[i + 1]].strip() for i, n in enumerate(names)} for line in lines]


def test_kubectl_get_clusterpolicy_shows_ready_and_message(cluster, controllers, api_client, kubectl):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, cluster_policy("good", NO_LATEST, background=True))
    custom.create_cluster_custom_object(*CPOL, cluster_policy("typo", TYPO))
    (unset, _) = _columns(kubectl("get", "clusterpolicy").stdout)
    assert (unset["NAME"], unset["BACKGROUND"], unset["READY"], unset["MESSAGE"]) == ("good", "true", "", "")
    controllers()
    wait_for(lambda: all(_ready(cluster.get("kyverno.io/v1", "ClusterPolicy", n)) for n in ("good", "typo")),
             what="both statuses")
    out = kubectl("get", "clusterpolicy").stdout
    assert out.splitlines()[0].split() == ["NAME", "ADMISSION", "BACKGROUND", "READY", "AGE", "MESSAGE"]
    good, typo = _columns(out)
    assert (good["NAME"], good["READY"], good["MESSAGE"]) == ("good", "True", "Ready")
    assert (typo["NAME"], typo["READY"]) == ("typo", "False")
    assert "spec.rules[0].validate.patern: unknown field (did you mean pattern?)" in typo["MESSAGE"]
    wide = kubectl("get", "cpol", "-o", "wide").stdout
    assert re.findall(r"\S+(?: \S+)*", wide.splitlines()[0]) == [
        "NAME", "ADMISSION", "BACKGROUND", "READY", "AGE", "FAILURE POLICY", "VALIDATE", "MUTATE", "GENERATE",
        "VERIFY IMAGES", "MESSAGE"]
    good, _ = _columns(wide)
    assert [good[c] for c in ("VALIDATE", "MUTATE", "GENERATE", "VERIFY IMAGES")] == ["1", "0", "0", "0"]
