"""The webhook runs CEL policies from the cluster: a ValidatingPolicy, and a ValidatingAdmissionPolicy with a
binding whose params are a ConfigMap the cluster holds. Requests through real TLS to ``verno serve``."""
from __future__ import annotations

import pytest

from fakeapi import FakeAPI
from serverproc import VernoServer, admission_request

NO_LATEST = {
    "apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy", "metadata": {"name": "no-latest"},
    "spec": {
        "validationActions": ["Deny"],
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                                                "operations": ["CREATE", "UPDATE"]}]},
        "validations": [{"expression": "object.spec.containers.all(c, !c.image.endsWith(':latest'))",
                         "messageExpression": "'images must be pinned: ' + object.spec.containers.map(c, c.image)"
                                              ".filter(i, i.endsWith(':latest')).join(', ')"}]}}

REPLICA_LIMIT = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "replica-limit"},
    "spec": {
        "failurePolicy": "Fail",
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                                                "resources": ["deployments"], "operations": ["CREATE", "UPDATE"]}]},
        "validations": [{"expression": "object.spec.replicas <= int(params.data.maxReplicas)",
                         "messageExpression": "'at most ' + params.data.maxReplicas + ' replicas'"}]}}

CONTAINER_LIMIT = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "container-limit"},
    "spec": {
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                "resources": ["pods"], "operations": ["CREATE"]}]},
        "validations": [{"expression": "size(object.spec.containers) <= int(params.data.maxContainers)",
                         "messageExpression": "'at most ' + params.data.maxContainers + ' containers'"}]}}

CONTAINER_BINDING = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
    "metadata": {"name": "container-limit-all"},
    "spec": {"policyName": "container-limit", "validationActions": ["Deny"],
             "paramRef": {"name": "replica-limits", "namespace": "platform",
                          "parameterNotFoundAction": "Deny"}}}

BINDING = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
    "metadata": {"name": "replica-limit-default"},
    "spec": {"policyName": "replica-limit", "validationActions": ["Deny"],
             "paramRef": {"name": "replica-limits", "namespace": "platform",
                          "parameterNotFoundAction": "Deny"}}}


LIMITS = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "replica-limits", "namespace": "platform"},
          "data": {"maxReplicas": "3", "maxContainers": "1"}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("cel-cluster")
    fake = FakeAPI()
    fake.put("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    fake.put("validatingpolicies", NO_LATEST)
    fake.put("validatingadmissionpolicies", REPLICA_LIMIT)
    fake.put("validatingadmissionpolicybindings", BINDING)
    fake.put("validatingadmissionpolicies", CONTAINER_LIMIT)
    fake.put("validatingadmissionpolicybindings", CONTAINER_BINDING)
    fake.configmaps[("platform", "replica-limits")] = LIMITS
    srv = VernoServer(work, ["--kubeconfig", str(fake.kubeconfig(work / "kubeconfig")), "--timeout", "5"])
    srv.fake = fake
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
        fake.close()


def pod(image: str, sidecars: int = 0) -> dict:
    containers = [{"name": "c", "image": image}] + [{"name": f"s{i}", "image": "proxy:1"} for i in range(sidecars)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": containers}}


def deployment(replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "default"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}}}


def test_a_validating_policy_denies_with_kyvernos_message(cluster):
    answer = cluster.review("/validate", admission_request(pod("nginx:latest")))
    assert answer["allowed"] is False
    assert answer["status"]["message"] == "Policy no-latest failed: images must be pinned: nginx:latest"
    assert cluster.review("/validate", admission_request(pod("nginx:1.27")))["allowed"] is True


def test_a_vap_with_a_binding_and_cluster_params_denies_as_the_api_server(cluster):
    answer = cluster.review("/validate", admission_request(deployment(5)))
    assert answer["allowed"] is False
    assert answer["status"]["message"] == ("ValidatingAdmissionPolicy 'replica-limit' with binding "
                                           "'replica-limit-default' denied request: at most 3 replicas")
    assert cluster.review("/validate", admission_request(deployment(2)))["allowed"] is True


def test_a_vap_with_a_binding_and_params_denies_a_pod(cluster):
    answer = cluster.review("/validate", admission_request(pod("nginx:1.27", sidecars=1)))
    assert answer["allowed"] is False
    assert answer["status"]["message"] == ("ValidatingAdmissionPolicy 'container-limit' with binding "
                                           "'container-limit-all' denied request: at most 1 containers")


def test_a_missing_param_denies_by_parameter_not_found_action(cluster):
    del cluster.fake.configmaps[("platform", "replica-limits")]
    try:
        answer = cluster.review("/validate", admission_request(deployment(2)))
        assert answer["allowed"] is False
        assert "failed to configure binding" in answer["status"]["message"]
    finally:
        cluster.fake.configmaps[("platform", "replica-limits")] = LIMITS
