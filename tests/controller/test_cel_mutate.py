"""A MutatingPolicy's mutateExisting in the cluster: the webhook hands each trigger over as a ``cel-mutate``
UpdateRequest, and ``verno controller`` patches the targets the policy selects, writing each back at the
resourceVersion it was read at."""
from __future__ import annotations

import base64
import copy
import sys
from pathlib import Path

from kubernetes import client

from controller.harness import NAMESPACE, ControllerProcess, wait_for
from verno.core.updaterequest import TriggerRef, cel_mutate_request

SERVER_HELPERS = str(Path(__file__).resolve().parents[1] / "server")
if SERVER_HELPERS not in sys.path:
    sys.path.insert(0, SERVER_HELPERS)

from serverproc import VernoServer  # noqa: E402

SECRETS = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["secrets"]}]}
TRIGGER = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"],
                              "operations": ["CREATE", "UPDATE"]}],
           "objectSelector": {"matchLabels": {"role": "trigger"}}}


def sync_policy(name: str = "sync-secrets", namespace: str = "", **spec) -> dict:
    kind = "NamespacedMutatingPolicy" if namespace else "MutatingPolicy"
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "policies.kyverno.io/v1", "kind": kind, "metadata": metadata,
            "spec": {"matchConstraints": TRIGGER, "targetMatchConstraints": SECRETS,
                     "targetMatchConditions": [{"name": "labelled", "expression":
                                                "has(object.metadata.labels) && 'sync' in object.metadata.labels"}],
                     "evaluation": {"admission": {"enabled": False}, "mutateExisting": {"enabled": True}},
                     "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {
                         "expression": "Object{metadata: Object.metadata{annotations: {'synced': 'yes'}}}"}}],
                     **spec}}


def secret(name: str, namespace: str = "team-a", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}}


def synced(cluster, name: str, namespace: str = "team-a"):
    found = cluster.get("v1", "Secret", name, namespace)
    return ((found or {}).get("metadata") or {}).get("annotations", {}).get("synced")


def records(api_client) -> list[dict]:
    return client.CustomObjectsApi(api_client).list_namespaced_custom_object(
        "kyverno.io", "v2", NAMESPACE, "updaterequests")["items"]


def test_a_trigger_through_the_webhook_patches_the_selected_targets(cluster, api_client, kubectl, tmp_path):
    cluster.create(sync_policy())
    kubectl("create", "namespace", "team-a")
    cluster.create(secret("db", sync="yes"))
    cluster.create(secret("plain"))
    server = VernoServer(tmp_path, ["--kubeconfig", str(cluster.kubeconfig), "--timeout", "5"],
                         env={"POD_NAMESPACE": NAMESPACE})
    controller = None
    try:
        server.wait_ready()
        hook = {"name": "validate.verno.svc-fail", "failurePolicy": "Fail", "sideEffects": "NoneOnDryRun",
                "admissionReviewVersions": ["v1"], "timeoutSeconds": 10,
                "clientConfig": {"url": f"{server.base}/validate/fail",
                                 "caBundle": base64.b64encode(server.cert_pem).decode()},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["configmaps"]}]}
        client.AdmissionregistrationV1Api(api_client).create_validating_webhook_configuration(
            {"metadata": {"name": "verno-resource-validating-webhook-cfg"}, "webhooks": [hook]})
        controller = ControllerProcess(cluster.kubeconfig, tmp_path / "controller.log")
        # not a trigger (no role label): nothing handed over
        kubectl("create", "configmap", "other", "-n", "team-a", "--from-literal=value=v1")
        # a dry run is never a trigger
        kubectl("create", "configmap", "dry", "-n", "team-a", "--dry-run=server", "-o", "yaml")
        kubectl("create", "configmap", "trigger", "-n", "team-a", "--from-literal=value=v1")
        kubectl("label", "configmap", "trigger", "-n", "team-a", "role=trigger")

        wait_for(lambda: synced(cluster, "db") == "yes", timeout=20, what="the labelled Secret patched")
        assert synced(cluster, "plain") is None
        wait_for(lambda: not records(api_client), what="the record cleaned up")
        log = (tmp_path / "controller.log").read_text()
        assert log.count('"target patched"') == 1, log
    finally:
        if controller is not None:
            assert controller.stop() == 0, (tmp_path / "controller.log").read_text()
        server.stop()


def _record(cluster, policy_key: str, trigger: dict, operation: str = "CREATE") -> dict:
    admission = {"uid": "u1", "operation": operation, "object": trigger,
                 "userInfo": {"username": "alice"}} if operation == "UPDATE" else None
    return cluster.create(cel_mutate_request(policy_key, TriggerRef.of(trigger), NAMESPACE,
                                             admission_request=admission))


def _trigger(cluster, namespace: str = "team-a") -> dict:
    return cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "trigger", "namespace": namespace, "labels": {"role": "trigger"}},
                           "data": {"value": "v1"}})


def test_the_controller_writes_each_target_at_its_resource_version(cluster, controllers, api_client):
    cluster.create(sync_policy())
    for ns in ("team-a", "team-b"):
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    before = cluster.create(secret("db", sync="yes"))
    cluster.create(secret("db", "team-b", sync="yes"))
    cluster.create(secret("plain"))
    running = controllers()
    _record(cluster, "sync-secrets", _trigger(cluster))
    wait_for(lambda: synced(cluster, "db") == "yes" and synced(cluster, "db", "team-b") == "yes",
             timeout=15, what="both labelled Secrets patched")
    assert synced(cluster, "plain") is None
    puts = [path for method, path in cluster.audit if method == "PUT" and "/secrets/" in path]
    assert sorted(puts) == ["/api/v1/namespaces/team-a/secrets/db", "/api/v1/namespaces/team-b/secrets/db"]
    after = cluster.get("v1", "Secret", "db", "team-a")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    wait_for(lambda: not records(api_client), what="the record cleaned up")
    assert running.controller.processed >= 1


def test_a_namespaced_policy_patches_its_own_namespace_only(cluster, controllers, api_client):
    for ns in ("team-a", "team-b"):
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.create(sync_policy("team-sync", namespace="team-a"))
    cluster.create(secret("db", sync="yes"))
    cluster.create(secret("db", "team-b", sync="yes"))
    controllers()
    _record(cluster, "team-a/team-sync", _trigger(cluster))
    wait_for(lambda: synced(cluster, "db") == "yes", timeout=15, what="team-a's Secret patched")
    wait_for(lambda: not records(api_client), what="the record cleaned up")
    assert synced(cluster, "db", "team-b") is None


def test_a_policy_without_mutate_existing_or_gone_writes_nothing(cluster, controllers, api_client):
    policy = sync_policy()
    policy["spec"]["evaluation"] = {"mutateExisting": {"enabled": False}}
    cluster.create(policy)
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    cluster.create(secret("db", sync="yes"))
    controllers()
    trigger = _trigger(cluster)
    _record(cluster, "sync-secrets", trigger)
    _record(cluster, "gone", trigger)
    wait_for(lambda: not records(api_client), what="both records completed")
    assert synced(cluster, "db") is None
    assert not [p for m, p in cluster.audit if m == "PUT" and "/secrets/" in p]


def test_a_target_changed_meanwhile_is_read_again(cluster, controllers, api_client, monkeypatch):
    """The PUT carries the resourceVersion the target was read at: a concurrent write makes it a 409, the
    request fails and its retry patches the target as it is now, keeping the other writer's change."""
    from verno.controller import cel_mutate

    cluster.create(sync_policy())
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    cluster.create(secret("db", sync="yes"))
    original = cel_mutate.CelMutator._candidates
    raced: list[bool] = []

    def racing(self, policy):
        found = original(self, policy)
        if not raced:  # someone else writes the target between the read and the PUT
            raced.append(True)
            current = copy.deepcopy(cluster.get("v1", "Secret", "db", "team-a"))
            current["metadata"]["labels"]["owner"] = "someone"
            client.CoreV1Api(api_client).replace_namespaced_secret("db", "team-a", current)
        return found

    monkeypatch.setattr(cel_mutate.CelMutator, "_candidates", racing)
    controllers(backoff=0.05)
    _record(cluster, "sync-secrets", _trigger(cluster))
    wait_for(lambda: synced(cluster, "db") == "yes", timeout=15, what="the Secret patched on retry")
    stored = cluster.get("v1", "Secret", "db", "team-a")
    assert stored["metadata"]["labels"] == {"sync": "yes", "owner": "someone"}
    assert raced == [True]


def test_a_target_expression_reads_its_targets_from_the_cluster(cluster, controllers, api_client):
    policy = sync_policy()
    policy["spec"]["targetMatchConstraints"] = {
        "expression": "resource.List('v1', 'secrets', object.metadata.namespace)"}
    cluster.create(policy)
    for ns in ("team-a", "team-b"):
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.create(secret("db", sync="yes"))
    cluster.create(secret("plain"))
    cluster.create(secret("db", "team-b", sync="yes"))
    controllers()
    _record(cluster, "sync-secrets", _trigger(cluster))
    wait_for(lambda: synced(cluster, "db") == "yes", timeout=15, what="the listed, labelled Secret patched")
    wait_for(lambda: not records(api_client), what="the record cleaned up")
    assert synced(cluster, "plain") is None and synced(cluster, "db", "team-b") is None
    assert synced(cluster, "trigger") is None and "annotations" not in cluster.get(
        "v1", "ConfigMap", "trigger", "team-a")["metadata"]
