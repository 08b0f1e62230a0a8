"""mutateExisting through the stand-in: mutate UpdateRequests (made from an admission request as the webhook
makes them) processed by a controller into targets patched with PUT at their resourceVersion; conflicts,
mutateExistingOnPolicyUpdate, namespaced Policies, 403s and restarts."""
from __future__ import annotations

import copy
import time
from typing import Any

from kubernetes import client

from controller.harness import NAMESPACE, wait_for
from controller.policies import cluster_policy
from controller.test_generate import _api, no_requests_left
from controller.test_permission_status import _condition
from verno.core.engine import Engine
from verno.core.loading import Document, validate_model
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.updaterequest import mutate_request
from verno.server.mutate_handoff import mutate_work


def annotate_rule(name: str = "annotate", namespace: str = "{{request.object.metadata.namespace}}",
                  **mutate: Any) -> dict[str, Any]:
    """Secrets and ConfigMaps labelled ``sync=yes`` in the trigger's namespace get the trigger's value."""
    targets = [{"apiVersion": "v1", "kind": kind, "namespace": namespace,
                "selector": {"matchLabels": {"sync": "yes"}}} for kind in ("Secret", "ConfigMap")]
    return {"name": name, "match": {"any": [{"resources": {"kinds": ["ConfigMap"], "names": ["trigger"]}}]},
            "mutate": {"targets": targets,
                       "patchStrategicMerge": {"metadata": {"annotations": {"synced": "{{request.object.data.value}}"}}},
                       **mutate}}


def configmap(server, name: str, ns: str, data: dict[str, str] | None = None, **labels: str) -> dict[str, Any]:
    return server.create({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": data or {}})


def secret(server, name: str, ns: str, **labels: str) -> dict[str, Any]:
    return server.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                          "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": {"k": "dg=="}})


def namespace(server, name: str) -> None:
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def synced(server, kind: str, name: str, ns: str) -> str | None:
    obj = server.get("v1", kind, name, ns) or {}
    return ((obj.get("metadata") or {}).get("annotations") or {}).get("synced")


def prepared_of(doc: dict[str, Any]) -> Any:
    return Engine().prepare(validate_model(Policy, Document("p", 0, doc)))


def hand_off_update(server, policy_doc: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> list[dict]:
    """What the webhook writes for the UPDATE ``old`` -> ``new`` of a trigger (server/mutate_handoff.py)."""
    admission = {"uid": "u-1", "operation": "UPDATE", "userInfo": {"username": "alice"}, "object": new,
                 "oldObject": old, "namespace": new["metadata"]["namespace"]}
    work = mutate_work([prepared_of(policy_doc)], Request(new, old, "UPDATE", {"username": "alice"}))
    assert work, "the webhook hands nothing over"
    return [server.create(mutate_request(w.policy, w.rule, w.trigger, NAMESPACE, admission_request=admission))
            for w in work]


def update_trigger(server, ns: str, value: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trigger ConfigMap updated in the cluster: (old, new)."""
    core = client.CoreV1Api(_api(server))
    old = server.get("v1", "ConfigMap", "trigger", ns)
    core.patch_namespaced_config_map("trigger", ns, {"data": {"value": value}})
    return old, server.get("v1", "ConfigMap", "trigger", ns)


POLICY = cluster_policy("sync-annotation", annotate_rule())


def test_trigger_update_patches_selected_secrets_and_configmaps(cluster, controllers):
    namespace(cluster, "team-a")
    configmap(cluster, "trigger", "team-a", {"value": "v1"})
    before = secret(cluster, "db", "team-a", sync="yes")
    secret(cluster, "other", "team-a")
    configmap(cluster, "settings", "team-a", sync="yes")
    cluster.create(POLICY)
    running = controllers()
    old, new = update_trigger(cluster, "team-a", "v2")
    (record,) = hand_off_update(cluster, POLICY, old, new)
    assert record["spec"]["requestType"] == "mutate" and record["spec"]["rule"] == "annotate"
    assert record["metadata"]["labels"]["mutate.updaterequest.kyverno.io/trigger-name"] == "trigger"
    wait_for(lambda: synced(cluster, "Secret", "db", "team-a") == "v2", what="labelled Secret patched")
    wait_for(lambda: synced(cluster, "ConfigMap", "settings", "team-a") == "v2", what="labelled ConfigMap patched")
    wait_for(lambda: no_requests_left(cluster), what="the finished record deleted")
    assert synced(cluster, "Secret", "other", "team-a") is None  # not selected
    assert synced(cluster, "ConfigMap", "trigger", "team-a") is None  # the trigger itself is never mutated
    after = cluster.get("v1", "Secret", "db", "team-a")
    assert after["data"] == before["data"] and after["metadata"]["uid"] == before["metadata"]["uid"]
    # written with PUT (the whole object at its resourceVersion), never with PATCH
    writes = [(verb, path) for verb, path in list(cluster.audit) if path.endswith("/secrets/db")]
    assert [verb for verb, _ in writes if verb in ("PUT", "PATCH")] == ["PUT"]
    assert running.controller.metrics.mutations.value("patched") == 2

    # the same value again: the targets already carry it (no patch), nothing is written
    old, new = update_trigger(cluster, "team-a", "v2")
    hand_off_update(cluster, POLICY, old, new)
    wait_for(lambda: no_requests_left(cluster), what="the second record done")
    assert running.controller.metrics.mutations.value("skipped") == 2
    assert [verb for verb, p in list(cluster.audit) if p.endswith("/secrets/db") and verb == "PUT"] == ["PUT"]


def test_conflicting_write_is_retried_and_both_changes_survive(cluster, controllers):
    namespace(cluster, "team-a")
    configmap(cluster, "trigger", "team-a", {"value": "v1"})
    secret(cluster, "db", "team-a", sync="yes")
    cluster.create(cluster_policy("sync-annotation", annotate_rule(targets=[
        {"apiVersion": "v1", "kind": "Secret", "namespace": "team-a", "name": "db"}])))
    running = controllers()
    kube = running.controller.kube
    original = kube.replace
    raced: list[int] = []

    def racing_replace(res, ns, body, subresource=""):
        if res.plural == "secrets" and not raced:  # someone else writes the target first
            raced.append(1)
            client.CoreV1Api(_api(cluster)).patch_namespaced_secret("db", "team-a",
                                                                    {"metadata": {"labels": {"owner": "ops"}}})
        return original(res, ns, body, subresource)

    kube.replace = racing_replace
    old, new = update_trigger(cluster, "team-a", "v2")
    hand_off_update(cluster, cluster_policy("sync-annotation", annotate_rule()), old, new)
    wait_for(lambda: synced(cluster, "Secret", "db", "team-a") == "v2", what="patched after the conflict")
    labels = cluster.get("v1", "Secret", "db", "team-a")["metadata"]["labels"]
    assert labels == {"sync": "yes", "owner": "ops"}  # the other writer's change was not lost
    assert raced and running.controller.metrics.mutations.value("conflict") == 1
    assert running.controller.metrics.requests.value("failed") == 1
    wait_for(lambda: no_requests_left(cluster), what="the record done")


def test_mutate_existing_on_policy_update_patches_existing_targets(cluster, controllers):
    for ns in ("team-a", "team-b"):
        namespace(cluster, ns)
        configmap(cluster, "trigger", ns, {"value": f"from-{ns}"})
        secret(cluster, "db", ns, sync="yes")
    controllers()
    # the rule's flag overrides the policy's: this one patches ...
    cluster.create(cluster_policy("on-update", annotate_rule(mutateExistingOnPolicyUpdate=True),
                                  mutateExistingOnPolicyUpdate=False))
    wait_for(lambda: synced(cluster, "Secret", "db", "team-a") == "from-team-a", what="team-a patched")
    wait_for(lambda: synced(cluster, "Secret", "db", "team-b") == "from-team-b", what="team-b patched")
    # ... this one does not
    rule = annotate_rule(mutateExistingOnPolicyUpdate=False)
    rule["mutate"]["patchStrategicMerge"] = {"metadata": {"annotations": {"other": "x"}}}
    cluster.create(cluster_policy("not-on-update", rule, mutateExistingOnPolicyUpdate=True))
    wait_for(lambda: no_requests_left(cluster), what="records done")
    time.sleep(0.5)
    assert "other" not in (cluster.get("v1", "Secret", "db", "team-a")["metadata"].get("annotations") or {})


def test_namespaced_policy_reaches_only_its_own_namespace(cluster, controllers):
    for ns in ("team-a", "team-b"):
        namespace(cluster, ns)
        secret(cluster, "db", ns, sync="yes")
    configmap(cluster, "trigger", "team-a", {"value": "v1"})
    doc = {"apiVersion": "kyverno.io/v1", "kind": "Policy", "metadata": {"name": "sync", "namespace": "team-a"},
           "spec": {"rules": [annotate_rule(namespace="*", mutateExistingOnPolicyUpdate=True)]}}
    cluster.create(doc)
    controllers()
    wait_for(lambda: synced(cluster, "Secret", "db", "team-a") == "v1", what="own namespace patched")
    wait_for(lambda: no_requests_left(cluster), what="records done")
    # a target naming another namespace explicitly is still read in the policy's own
    explicit = copy.deepcopy(doc)
    explicit["metadata"]["name"] = "explicit"
    explicit["spec"]["rules"][0]["mutate"]["patchStrategicMerge"] = {"metadata": {"annotations": {"x": "1"}}}
    for target in explicit["spec"]["rules"][0]["mutate"]["targets"]:
        target["namespace"] = "team-b"
    cluster.create(explicit)
    wait_for(lambda: (cluster.get("v1", "Secret", "db", "team-a")["metadata"].get("annotations") or {}).get("x"),
             what="explicit policy patched its own namespace")
    wait_for(lambda: no_requests_left(cluster), what="records done")
    assert cluster.get("v1", "Secret", "db", "team-b")["metadata"].get("annotations") in (None, {})


def test_forbidden_update_gives_the_event_condition_and_metric(cluster, controllers):
    namespace(cluster, "locked")
    configmap(cluster, "trigger", "locked", {"value": "v1"})
    secret(cluster, "db", "locked", sync="yes")
    cluster.create(POLICY)
    cluster.deny("update", "", "secrets", "locked")
    running = controllers()
    old, new = update_trigger(cluster, "locked", "v2")
    hand_off_update(cluster, POLICY, old, new)
    policy = lambda: cluster.get("kyverno.io/v1", "ClusterPolicy", "sync-annotation")  # noqa: E731
    denied = wait_for(lambda: _condition(policy(), "PermissionDenied"), what="PermissionDenied")
    assert (denied["status"], denied["reason"], denied["message"]) == (
        "True", "Forbidden", "verno lacks permission to update Secret in namespace locked")
    events = client.CoreV1Api(_api(cluster)).list_namespaced_event("default").items
    assert any(e.involved_object.name == "sync-annotation" and e.reason == "PolicyError" and
               "verno lacks permission to update Secret in namespace locked" in e.message for e in events)
    assert running.controller.metrics.denied.value("update", "Secret", "locked") >= 1
    assert synced(cluster, "Secret", "db", "locked") is None


def test_restart_mid_work_loses_nothing(cluster, controllers):
    namespace(cluster, "team-a")
    configmap(cluster, "trigger", "team-a", {"value": "v1"})
    secret(cluster, "db", "team-a", sync="yes")
    cluster.create(POLICY)
    denial = cluster.deny("update", "", "secrets", "team-a")
    first = controllers(backoff=30.0)  # a failed record waits long: the restart happens meanwhile
    old, new = update_trigger(cluster, "team-a", "v2")
    hand_off_update(cluster, POLICY, old, new)
    custom = client.CustomObjectsApi(_api(cluster))
    wait_for(lambda: [u for u in custom.list_namespaced_custom_object("kyverno.io", "v2", NAMESPACE,
                                                                      "updaterequests")["items"]
                      if (u.get("status") or {}).get("state") == "Failed"], what="the record Failed")
    first.stop()
    cluster.allow(denial)
    controllers()
    wait_for(lambda: synced(cluster, "Secret", "db", "team-a") == "v2", what="patched by the next controller")
    wait_for(lambda: no_requests_left(cluster), what="the record done")


def test_policy_exception_skips_the_rule_for_its_triggers(cluster, controllers):
    for ns in ("team-a", "legacy"):
        namespace(cluster, ns)
        configmap(cluster, "trigger", ns, {"value": ns})
        secret(cluster, "db", ns, sync="yes")
    cluster.create({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
                    "metadata": {"name": "legacy", "namespace": "legacy"},
                    "spec": {"exceptions": [{"policyName": "sync-annotation", "ruleNames": ["annotate"]}],
                             "match": {"any": [{"resources": {"kinds": ["ConfigMap"], "namespaces": ["legacy"]}}]}}})
    running = controllers()
    cluster.create(cluster_policy("sync-annotation", annotate_rule(mutateExistingOnPolicyUpdate=True)))
    wait_for(lambda: synced(cluster, "Secret", "db", "team-a") == "team-a", what="team-a patched")
    wait_for(lambda: no_requests_left(cluster), what="records done")
    assert synced(cluster, "Secret", "db", "legacy") is None
    assert running.controller.metrics.requests.value("completed") == 2


def test_status_target_is_written_through_the_status_subresource(cluster, controllers):
    namespace(cluster, "team-a")
    configmap(cluster, "trigger", "team-a", {"value": "7"})
    cluster.create({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "quota", "namespace": "team-a"},
                    "spec": {"hard": {"pods": "10"}}})
    rule = annotate_rule(mutateExistingOnPolicyUpdate=True, targets=[
        {"apiVersion": "v1", "kind": "ResourceQuota/status", "namespace": "team-a", "name": "quota"}])
    rule["mutate"]["patchStrategicMerge"] = {"status": {"used": {"pods": "{{request.object.data.value}}"}}}
    controllers()
    cluster.create(cluster_policy("quota-status", rule))
    wait_for(lambda: (cluster.get("v1", "ResourceQuota", "quota", "team-a").get("status") or {}).get("used")
             == {"pods": "7"}, what="status written")
    assert ("PUT", "/api/v1/namespaces/team-a/resourcequotas/quota/status") in list(cluster.audit)
    assert cluster.get("v1", "ResourceQuota", "quota", "team-a")["spec"] == {"hard": {"pods": "10"}}
