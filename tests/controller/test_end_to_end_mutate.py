"""mutateExisting end to end, as processes: kubectl updates a trigger ConfigMap, the stand-in calls `verno serve`
(cluster mode) as its validating webhook, the webhook hands a mutate UpdateRequest over, `verno controller`
patches the Secrets the rule selects."""
from __future__ import annotations

import base64

from kubernetes import client

from controller.harness import NAMESPACE, wait_for
from controller.policies import cluster_policy
from controller.test_end_to_end import ControllerProcess
from controller.test_mutate_existing import annotate_rule
from serverproc import VernoServer


def test_trigger_update_through_the_webhook_patches_targets(cluster, api_client, kubectl, tmp_path):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object("kyverno.io", "v1", "clusterpolicies",
                                        cluster_policy("sync-annotation", annotate_rule()))
    kubectl("create", "namespace", "team-a")
    kubectl("create", "configmap", "trigger", "-n", "team-a", "--from-literal=value=v1")
    for name, labels in (("db", {"sync": "yes"}), ("other", {})):
        cluster.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": name, "namespace": "team-a", "labels": labels}})
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
        kubectl("patch", "configmap", "trigger", "-n", "team-a", "--type", "merge", "-p", '{"data":{"value":"v2"}}')

        def annotation(name: str):
            return (cluster.get("v1", "Secret", name, "team-a")["metadata"].get("annotations") or {}).get("synced")

        wait_for(lambda: annotation("db") == "v2", timeout=20, what="the labelled Secret patched")
        assert annotation("other") is None
        wait_for(lambda: not custom.list_namespaced_custom_object("kyverno.io", "v2", NAMESPACE,
                                                                  "updaterequests")["items"],
                 what="the record cleaned up")
    finally:
        if controller is not None:
            assert controller.stop() == 0, (tmp_path / "controller.log").read_text()
        server.stop()
