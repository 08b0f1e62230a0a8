"""Each CEL policy kind acting at admission in a cluster: the API-server stand-in calls `verno serve` (cluster
mode: the policies are read from the stand-in) over TLS as its mutating and validating webhook, and the
official client or kubectl creates the resources, as a user would.

MutatingPolicy and MutatingAdmissionPolicy (with its binding) change what is stored; ValidatingPolicy,
ValidatingAdmissionPolicy (with its binding) and ImageValidatingPolicy deny what breaks them and admit the rest."""
from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

TESTS = str(Path(__file__).resolve().parents[1])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from apiserver.fixtures import api_client, apiserver, kubectl  # noqa: E402,F401
from controller.harness import load_crds  # noqa: E402
from serverproc import VernoServer  # noqa: E402

CONFIGMAPS = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"],
                                 "operations": ["CREATE", "UPDATE"]}]}
PODS = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                           "operations": ["CREATE", "UPDATE"]}]}

MPOL = {"apiVersion": "policies.kyverno.io/v1", "kind": "MutatingPolicy", "metadata": {"name": "team-label"},
        "spec": {"matchConstraints": CONFIGMAPS,
                 "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {
                     "expression": "Object{metadata: Object.metadata{labels: {'team': 'platform'}}}"}}]}}

MAP = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
       "metadata": {"name": "owner-label"},
       "spec": {"matchConstraints": CONFIGMAPS, "failurePolicy": "Fail", "reinvocationPolicy": "Never",
                "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression":
                    "[JSONPatch{op: 'add', path: '/metadata/labels', value: {'owner': object.metadata.name}}]"}}]}}
MAP_BINDING = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
               "metadata": {"name": "owner-label"}, "spec": {"policyName": "owner-label"}}

VPOL_MESSAGE = "images must be pinned"
VPOL = {"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy", "metadata": {"name": "no-latest"},
        "spec": {"validationActions": ["Deny"], "matchConstraints": PODS,
                 "validations": [{"expression": "object.spec.containers.all(c, !c.image.endsWith(':latest'))",
                                  "message": VPOL_MESSAGE}]}}

VAP = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
       "metadata": {"name": "small-configmaps"},
       "spec": {"failurePolicy": "Fail", "matchConstraints": CONFIGMAPS,
                "validations": [{"expression": "size(object.data) <= 2",
                                 "messageExpression": "'at most 2 keys, got ' + string(size(object.data))"}]}}
VAP_BINDING = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "small-configmaps"},
               "spec": {"policyName": "small-configmaps", "validationActions": ["Deny"]}}

IVPOL = {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy", "metadata": {"name": "prod-digests"},
         "spec": {"matchConstraints": PODS, "validationActions": ["Deny"],
                  "matchImageReferences": [{"glob": "registry.example/prod/*"}],
                  "attestors": [{"name": "key", "cosign": {"key": {"data": "-----BEGIN PUBLIC KEY-----"}}}],
                  "validationConfigurations": {"verifyDigest": True, "mutateDigest": False,
                                               "required": False},  # digests and validations, no signatures
                  "validations": [{"expression": "images.containers.all(i, i.startsWith('registry.example/'))",
                                   "message": "only the prod registry"}]}}
DIGEST = "sha256:" + "a" * 64


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": data}


def pod_manifest(name: str, image: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                           "spec": {"containers": [{"name": "app", "image": image}]}})


@pytest.fixture
def webhook(apiserver, api_client, tmp_path) -> Iterator[Callable[..., VernoServer]]:  # noqa: F811
    """Starts `verno serve` on the cluster holding ``policies`` and registers it as the stand-in's webhook."""
    started: list[VernoServer] = []

    def start(*policies: dict[str, Any]) -> VernoServer:
        load_crds(apiserver)  # verno's policy kinds, which the webhook lists
        for policy in policies:
            apiserver.create(policy)
        server = VernoServer(tmp_path, ["--kubeconfig", str(apiserver.kubeconfig), "--timeout", "8"])
        started.append(server)
        server.wait_ready()  # ready once every kind was listed: the policies above are loaded
        ca = base64.b64encode(server.cert_pem).decode()

        def hook(name: str, path: str) -> dict:
            return {"name": name, "failurePolicy": "Fail", "sideEffects": "NoneOnDryRun",
                    "admissionReviewVersions": ["v1"], "timeoutSeconds": 10,
                    "clientConfig": {"url": f"{server.base}{path}", "caBundle": ca},
                    "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                               "resources": ["pods", "configmaps"]}]}

        admission = client.AdmissionregistrationV1Api(api_client)
        admission.create_mutating_webhook_configuration(
            {"metadata": {"name": "verno-resource-mutating-webhook-cfg"},
             "webhooks": [{**hook("mutate.verno.svc-fail", "/mutate/fail"), "reinvocationPolicy": "IfNeeded"}]})
        admission.create_validating_webhook_configuration(
            {"metadata": {"name": "verno-resource-validating-webhook-cfg"},
             "webhooks": [hook("validate.verno.svc-fail", "/validate/fail")]})
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def test_a_mutating_policy_labels_the_stored_configmap(webhook, api_client):  # noqa: F811
    webhook(MPOL)
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_config_map("default", configmap("settings", mode="fast"))
    assert created.metadata.labels == {"team": "platform"}
    assert core.read_namespaced_config_map("settings", "default").metadata.labels == {"team": "platform"}
    assert core.read_namespaced_config_map("settings", "default").data == {"mode": "fast"}


def test_a_mutating_admission_policy_and_its_binding_label_the_stored_configmap(webhook, api_client):  # noqa: F811
    webhook(MAP, MAP_BINDING)
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map("default", configmap("settings", mode="fast"))
    assert core.read_namespaced_config_map("settings", "default").metadata.labels == {"owner": "settings"}


def test_a_mutating_admission_policy_without_a_binding_does_nothing(webhook, api_client):  # noqa: F811
    webhook(MAP)
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map("default", configmap("settings", mode="fast"))
    assert not core.read_namespaced_config_map("settings", "default").metadata.labels


def test_a_validating_policy_denies_through_kubectl(webhook, kubectl, apiserver):  # noqa: F811
    webhook(VPOL)
    proc = kubectl("apply", "--validate=false", "-f", "-", input=pod_manifest("latest", "nginx:latest"), check=False)
    assert proc.returncode != 0
    assert 'admission webhook "validate.verno.svc-fail" denied the request' in proc.stderr, proc.stderr
    assert "no-latest" in proc.stderr and VPOL_MESSAGE in proc.stderr, proc.stderr
    assert apiserver.get("v1", "Pod", "latest", "default") is None
    kubectl("apply", "--validate=false", "-f", "-", input=pod_manifest("pinned", "nginx:1.27"))
    assert apiserver.get("v1", "Pod", "pinned", "default") is not None


def test_a_validating_admission_policy_and_its_binding_deny(webhook, api_client, apiserver):  # noqa: F811
    webhook(VAP, VAP_BINDING)
    core = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as denied:
        core.create_namespaced_config_map("default", configmap("big", a="1", b="2", c="3"))
    assert denied.value.status == 400, denied.value  # a denial without a code, as the API server answers it
    assert ("ValidatingAdmissionPolicy 'small-configmaps' with binding 'small-configmaps' denied request: "
            "at most 2 keys, got 3") in denied.value.body
    assert apiserver.get("v1", "ConfigMap", "big", "default") is None
    core.create_namespaced_config_map("default", configmap("small", a="1"))
    assert apiserver.get("v1", "ConfigMap", "small", "default") is not None


def test_an_image_validating_policy_denies_an_image_without_digest(webhook, kubectl, apiserver):  # noqa: F811
    webhook(IVPOL)
    image = "registry.example/prod/app:v1"
    proc = kubectl("apply", "--validate=false", "-f", "-", input=pod_manifest("tagged", image), check=False)
    assert proc.returncode != 0
    assert "prod-digests" in proc.stderr and f"image {image} does not have a digest" in proc.stderr, proc.stderr
    assert apiserver.get("v1", "Pod", "tagged", "default") is None
    # outside matchImageReferences: not checked at all (the validation would fail on it)
    kubectl("apply", "--validate=false", "-f", "-", input=pod_manifest("other", "docker.io/library/nginx:1.27"))
    assert apiserver.get("v1", "Pod", "other", "default") is not None
    # selected, with its digest: verified and validated
    kubectl("apply", "--validate=false", "-f", "-", input=pod_manifest("pinned", f"{image}@{DIGEST}"))
    assert apiserver.get("v1", "Pod", "pinned", "default") is not None


@pytest.mark.parametrize("apiserver", [34], indirect=True)
def test_a_mutating_admission_policy_served_at_v1beta1_labels_the_stored_configmap(webhook, api_client,
                                                                                    apiserver):  # noqa: F811
    """Kubernetes 1.34 and 1.35 serve MutatingAdmissionPolicy at v1beta1 only: the webhook finds it there."""
    beta = "admissionregistration.k8s.io/v1beta1"
    assert apiserver.registry.by_kind(beta, "MutatingAdmissionPolicy").version == "v1beta1"
    webhook({**MAP, "apiVersion": beta}, {**MAP_BINDING, "apiVersion": beta})
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map("default", configmap("settings", mode="fast"))
    assert core.read_namespaced_config_map("settings", "default").metadata.labels == {"owner": "settings"}
