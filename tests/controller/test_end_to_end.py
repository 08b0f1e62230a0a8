"""End to end on 127.0.0.1, as processes: the stand-in API server calls `verno serve` (cluster mode) as its
validating webhook; the webhook hands generate work over as UpdateRequests; `verno controller` (Lease-elected)
makes the NetworkPolicy (and deletes a ConfigMap's copy with it); kubectl drives it all. Also: a dry run hands
nothing over, and a controller killed with work pending loses nothing (a new one takes the Lease over and
finishes it)."""
from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

from controller.harness import NAMESPACE, ControllerProcess, wait_for
from controller.policies import NETPOL, cluster_policy

SERVER_TESTS = str(Path(__file__).resolve().parents[1] / "server")
if SERVER_TESTS not in sys.path:
    sys.path.insert(0, SERVER_TESTS)

from serverproc import VernoServer  # noqa: E402


#: a ConfigMap labelled copy=yes gets another beside it, deleted with it or when the label goes
COPY_CONFIGMAP = cluster_policy("copy-configmap", {
    "name": "secret-beside", "match": {"any": [{"resources": {"kinds": ["ConfigMap"],
                                                              "selector": {"matchLabels": {"copy": "yes"}}}}]},
    "generate": {"apiVersion": "v1", "kind": "ConfigMap", "name": "{{request.object.metadata.name}}-copy",
                 "namespace": "{{request.object.metadata.namespace}}", "synchronize": True,
                 "data": {"data": {"from": "{{request.object.metadata.name}}",
                                         "by": "{{request.userInfo.username}}"}}}})


@pytest.fixture
def webhook(cluster, api_client, tmp_path):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object("kyverno.io", "v1", "clusterpolicies", NETPOL)
    custom.create_cluster_custom_object("kyverno.io", "v1", "clusterpolicies", COPY_CONFIGMAP)
    server = VernoServer(tmp_path, ["--kubeconfig", str(cluster.kubeconfig), "--timeout", "5"],
                         env={"POD_NAMESPACE": NAMESPACE})
    try:
        server.wait_ready()
        hook = {"name": "validate.verno.svc-fail", "failurePolicy": "Fail", "sideEffects": "NoneOnDryRun",
                "admissionReviewVersions": ["v1"], "timeoutSeconds": 10,
                "clientConfig": {"url": f"{server.base}/validate/fail",
                                 "caBundle": base64.b64encode(server.cert_pem).decode()},
                "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["namespaces", "configmaps"]}]}
        client.AdmissionregistrationV1Api(api_client).create_validating_webhook_configuration(
            {"metadata": {"name": "verno-resource-validating-webhook-cfg"}, "webhooks": [hook]})
        yield server
    finally:
        server.stop()


def test_namespace_gets_its_networkpolicy_restored_and_nothing_is_lost(cluster, api_client, kubectl, webhook,
                                                                     tmp_path):
    net = client.NetworkingV1Api(api_client)

    def netpol(ns: str):
        return cluster.get("networking.k8s.io/v1", "NetworkPolicy", "default-deny", ns)

    def requests() -> list:
        return client.CustomObjectsApi(api_client).list_namespaced_custom_object(
            "kyverno.io", "v2", NAMESPACE, "updaterequests")["items"]

    first = ControllerProcess(cluster.kubeconfig, tmp_path / "controller-1.log")
    second = None
    try:
        wait_for(lambda: cluster.get("coordination.k8s.io/v1", "Lease", "verno-controller", NAMESPACE),
                 timeout=30, what="the controller's Lease")
        started = time.monotonic()
        kubectl("create", "namespace", "probe")
        wait_for(lambda: netpol("probe"), timeout=5, what="default-deny in probe")
        created = time.monotonic() - started

        started = time.monotonic()
        kubectl("delete", "networkpolicy", "default-deny", "-n", "probe")
        wait_for(lambda: netpol("probe"), timeout=5, what="default-deny back after deletion")
        restored = time.monotonic() - started

        kubectl("patch", "networkpolicy", "default-deny", "-n", "probe", "--type", "merge",
                "-p", '{"spec":{"policyTypes":["Ingress"]}}')
        wait_for(lambda: netpol("probe")["spec"]["policyTypes"] == ["Ingress", "Egress"], timeout=5,
                 what="edited default-deny reverted")
        wait_for(lambda: not requests(), what="finished requests cleaned up")

        # a trigger deleted, or no longer matching: the webhook hands over the deletion of its downstream
        for name in ("gone", "unlabelled"):
            kubectl("create", "configmap", name, "-n", "probe")
            kubectl("label", "configmap", name, "-n", "probe", "copy=yes")
            copy = wait_for(lambda: cluster.get("v1", "ConfigMap", f"{name}-copy", "probe"), timeout=5,
                            what=f"{name}-copy")
            assert copy["data"] == {"from": name, "by": "kubernetes-admin"}  # request.userInfo of the trigger
        kubectl("delete", "configmap", "gone", "-n", "probe")
        kubectl("label", "configmap", "unlabelled", "-n", "probe", "copy-")
        wait_for(lambda: cluster.get("v1", "ConfigMap", "gone-copy", "probe") is None, timeout=5,
                 what="downstream deleted with its trigger")
        wait_for(lambda: cluster.get("v1", "ConfigMap", "unlabelled-copy", "probe") is None, timeout=5,
                 what="downstream deleted when the trigger stopped matching")
        wait_for(lambda: not requests(), what="finished requests cleaned up")

        kubectl("create", "namespace", "dry", "--dry-run=server")
        time.sleep(0.5)
        assert requests() == [] and netpol("dry") is None

        first.kill()  # with the next request not yet processed: it waits in the cluster
        kubectl("create", "namespace", "late")
        wait_for(lambda: requests(), what="the hand-off record of namespace late")
        assert netpol("late") is None
        second = ControllerProcess(cluster.kubeconfig, tmp_path / "controller-2.log")
        wait_for(lambda: netpol("late"), timeout=20, what="default-deny in late, made by the new leader")
        holder = cluster.get("coordination.k8s.io/v1", "Lease", "verno-controller", NAMESPACE)["spec"]
        assert holder["leaseTransitions"] == 1
        assert net.read_namespaced_network_policy("default-deny", "late").metadata.labels[
            "generate.kyverno.io/trigger-name"] == "late"
        print(f"\ntrigger create -> downstream present: {created:.3f}s; downstream deleted -> restored: "
              f"{restored:.3f}s")
    finally:
        first.stop()
        if second is not None:
            assert second.stop() == 0, (tmp_path / "controller-2.log").read_text()


def test_a_cluster_without_the_crds_is_an_error_saying_what_to_install(apiserver, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "verno", "controller", "--kubeconfig", str(apiserver.kubeconfig),
                           "--namespace", "default", "--port", "0", "--leader-election-retry-period", "0.5s"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert ('Error: no matches for kind "UpdateRequest" in version "kyverno.io/v2": install verno\'s '
            "CustomResourceDefinitions (deploy/helm/verno/crds) in the cluster") in proc.stderr
