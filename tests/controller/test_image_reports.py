"""ImageValidatingPolicies in background scans: the controller verifies the images of existing Pods against
the real local docker-registry (through its egress fence) and reports each Pod's verdict."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kubernetes import client

from controller.harness import wait_for

HELPERS = Path(__file__).resolve().parents[1] / "verifyimages"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))

from vi_cosign import push_signatures, signature  # noqa: E402
from vi_fixtures import pusher, registry  # noqa: E402,F401  (the real docker-registry, shared)
from vi_pki import new_key, public_pem  # noqa: E402

WG = "wgpolicyk8s.io/v1alpha2"
FAST = dict(scan_debounce=0.05)


@pytest.fixture
def images(registry, pusher):  # noqa: F811
    key = new_key()
    signed = pusher.image("scan/signed", "v1")
    push_signatures(pusher, "scan/signed", signed, [signature(key, f"{registry.host}/scan/signed", signed)])
    unsigned = pusher.image("scan/unsigned", "v1")
    return {"host": registry.host, "pem": public_pem(key), "signed": f"{registry.host}/scan/signed@{signed}",
            "unsigned": f"{registry.host}/scan/unsigned@{unsigned}"}


def ivpol(host: str, pem: str) -> dict:
    return {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy", "metadata": {"name": "signed"},
            "spec": {"validationActions": ["Audit"],
                     "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                             "operations": ["CREATE"], "resources": ["pods"]}]},
                     "matchImageReferences": [{"glob": f"{host}/scan/*"}],
                     "attestors": [{"name": "key", "cosign": {"key": {"data": pem},
                                                             "ctlog": {"insecureIgnoreTlog": True,
                                                                       "insecureIgnoreSCT": True}}}],
                     "validations": [{"expression": "images.containers.all(i, verifyImageSignatures(i, "
                                                    "[attestors.key]) > 0)", "message": "images must be signed"}]}}


def pod(api_client, name: str, image: str) -> dict:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": image}]}}
    return api_client.sanitize_for_serialization(client.CoreV1Api(api_client).create_namespaced_pod("default", body))


def verdict(cluster, obj):
    report = cluster.get(WG, "PolicyReport", obj["metadata"]["uid"], "default")
    return [(r["policy"], r["result"], r["message"], r["source"]) for r in (report or {}).get("results") or []]


def test_image_validating_policies_are_scanned_against_the_registry(cluster, controllers, api_client, images):
    client.CustomObjectsApi(api_client).create_cluster_custom_object(
        "policies.kyverno.io", "v1", "imagevalidatingpolicies", ivpol(images["host"], images["pem"]))
    good, bad = pod(api_client, "good", images["signed"]), pod(api_client, "bad", images["unsigned"])
    controllers(allow_egress=["127.0.0.1"], allow_insecure_registry=True, **FAST)
    assert wait_for(lambda: verdict(cluster, good), what="the signed Pod's report") == [
        ("signed", "pass", "success", "KyvernoImageValidatingPolicy")]
    assert wait_for(lambda: verdict(cluster, bad), what="the unsigned Pod's report") == [
        ("signed", "fail", "images must be signed", "KyvernoImageValidatingPolicy")]
    report = cluster.get(WG, "PolicyReport", good["metadata"]["uid"], "default")
    assert "ivpol.kyverno.io/signed" in report["metadata"]["labels"]


def test_without_the_egress_fence_opened_the_scan_reports_an_error(cluster, controllers, api_client, images):
    client.CustomObjectsApi(api_client).create_cluster_custom_object(
        "policies.kyverno.io", "v1", "imagevalidatingpolicies", ivpol(images["host"], images["pem"]))
    good = pod(api_client, "good", images["signed"])
    controllers(allow_insecure_registry=True, **FAST)  # loopback registries are fenced off by default
    [(policy, result, message, _)] = wait_for(lambda: verdict(cluster, good), what="the Pod's report")
    assert (policy, result) == ("signed", "error") and images["host"].split(":")[0] in message


def test_verify_images_rules_are_scanned_against_the_registry(cluster, controllers, api_client, images):
    """A ClusterPolicy's verifyImages rule in background scans: each existing Pod's images verified through
    the controller's registry pool, the verdict in its report."""
    policy = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "verify"},
              "spec": {"validationFailureAction": "Audit", "rules": [{
                  "name": "signed", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                  "verifyImages": [{"imageReferences": [f"{images['host']}/scan/*"], "mutateDigest": False,
                                    "attestors": [{"entries": [{"keys": {
                                        "publicKeys": images["pem"], "rekor": {"ignoreTlog": True},
                                        "ctlog": {"ignoreSCT": True}}}]}]}]}]}}
    client.CustomObjectsApi(api_client).create_cluster_custom_object("kyverno.io", "v1", "clusterpolicies", policy)
    good, bad = pod(api_client, "good", images["signed"]), pod(api_client, "bad", images["unsigned"])
    controllers(allow_egress=["127.0.0.1"], allow_insecure_registry=True, **FAST)
    assert [r[:2] for r in wait_for(lambda: verdict(cluster, good), what="the signed Pod's report")] == \
        [("verify", "pass")]
    [(policy_name, result, message, source)] = wait_for(lambda: verdict(cluster, bad), what="the unsigned Pod's report")
    assert (policy_name, result, source) == ("verify", "fail", "kyverno") and "signature" in message, message
