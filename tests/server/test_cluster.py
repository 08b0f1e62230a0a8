"""Cluster mode: policies, exceptions and namespace labels watched through the kubernetes client
from a stand-in API server; apiCall/configMap context entries served by it (one path hangs)."""
from __future__ import annotations

import time

import pytest

from fakeapi import FakeAPI
from serverproc import VernoServer, admission_request

TIMEOUT = 2.0


def cluster_policy(name: str, rule: dict, **spec) -> dict:
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
            "spec": {**spec, "rules": [rule]}}


def pod_rule(name: str, validate: dict, **extra) -> dict:
    return {"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": validate, **extra}


REQUIRE_APP = cluster_policy("require-app", pod_rule("check-app", {
    "failureAction": "Enforce", "message": "app label required",
    "pattern": {"metadata": {"labels": {"app": "?*"}}}}))

NO_DEBUG_IN_PROD = cluster_policy("no-debug-in-prod", {
    "name": "no-debug", "match": {"any": [{"resources": {"kinds": ["Pod"],
                                                         "namespaceSelector": {"matchLabels": {"env": "prod"}}}}]},
    "validate": {"failureAction": "Enforce", "message": "no debug pods in prod",
                 "pattern": {"metadata": {"=(labels)": {"X(debug)": "null"}}}}})

TEAM_B_POLICY = {"apiVersion": "kyverno.io/v1", "kind": "Policy", "metadata": {"name": "team-b-only", "namespace": "team-b"},
                 "spec": {"rules": [pod_rule("owner", {"failureAction": "Enforce", "message": "owner label required",
                                                       "pattern": {"metadata": {"labels": {"owner": "?*"}}}})]}}

EXCEPTION = {"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": {"name": "legacy", "namespace": "default"},
             "spec": {"exceptions": [{"policyName": "require-app", "ruleNames": ["check-app"]}],
                      "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["legacy-*"]}}]}}}


def api_call_policy(name: str, path: str, failure_policy: str, kind: str) -> dict:
    rule = {"name": "lookup", "match": {"any": [{"resources": {"kinds": [kind]}}]},
            "context": [{"name": "data", "apiCall": {"urlPath": path, "jmesPath": "limit"}}],
            "validate": {"failureAction": "Enforce", "message": "limit is {{ data }}",
                         "deny": {"conditions": {"any": [{"key": "{{ data }}", "operator": "Equals", "value": -1}]}}}}
    return cluster_policy(name, rule, webhookConfiguration={"failurePolicy": failure_policy})


CONFIGMAP_POLICY = cluster_policy("allowed-registry", {
    "name": "registry", "match": {"any": [{"resources": {"kinds": ["Deployment"]}}]},
    "context": [{"name": "settings", "configMap": {"name": "registry", "namespace": "verno"}}],
    "validate": {"failureAction": "Enforce", "message": "images must come from {{ settings.data.registry }}",
                 "deny": {"conditions": {"any": [{"key": "{{ request.object.metadata.annotations.registry }}",
                                                  "operator": "NotEquals", "value": "{{ settings.data.registry }}"}]}}}})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("cluster")
    fake = FakeAPI()
    fake.put("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "labels": {"env": "prod"}}})
    fake.put("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b", "labels": {"env": "dev"}}})
    for p in (REQUIRE_APP, NO_DEBUG_IN_PROD, CONFIGMAP_POLICY,
              api_call_policy("slow-fail", "/apis/example.com/v1/slow", "Fail", "ConfigMap"),
              api_call_policy("slow-ignore", "/apis/example.com/v1/slow", "Ignore", "Secret"),
              api_call_policy("broken-api", "/apis/example.com/v1/broken", "Fail", "Service"),
              api_call_policy("quota", "/apis/example.com/v1/quota", "Fail", "ServiceAccount")):
        fake.put("clusterpolicies", p)
    fake.put("policies", TEAM_B_POLICY)
    fake.put("policyexceptions", EXCEPTION)
    fake.configmaps[("verno", "registry")] = {"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": "registry", "namespace": "verno"},
                                              "data": {"registry": "ghcr.io"}}
    srv = VernoServer(work, ["--kubeconfig", str(fake.kubeconfig(work / "kubeconfig")), "--timeout", str(TIMEOUT)])
    srv.fake = fake
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
        fake.close()


def pod(name: str = "web", namespace: str = "default", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def obj(kind: str, api_version: str = "v1", **meta) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "default", **meta}}


def test_policies_from_the_cluster_are_enforced(cluster):
    denied = cluster.review("/validate", admission_request(pod()))
    assert denied["allowed"] is False
    assert "require-app:\n  check-app: 'validation error: app label required." in denied["status"]["message"]
    assert cluster.review("/validate", admission_request(pod(app="web")))["allowed"] is True


def test_namespace_labels_drive_namespace_selector(cluster):
    prod = cluster.review("/validate", admission_request(pod(app="web", debug="1")))
    assert prod["allowed"] is False and "no debug pods in prod" in prod["status"]["message"]
    dev = cluster.review("/validate", admission_request(pod(namespace="team-b", app="web", debug="1", owner="b")))
    assert dev["allowed"] is True


def test_namespaced_policy_and_exception(cluster):
    team_b = cluster.review("/validate", admission_request(pod(namespace="team-b", app="web")))
    assert team_b["allowed"] is False and "team-b-only" in team_b["status"]["message"]
    assert cluster.review("/validate", admission_request(pod(name="legacy-1")))["allowed"] is True


def test_configmap_context_from_the_cluster(cluster):
    bad = obj("Deployment", "apps/v1", annotations={"registry": "docker.io"})
    denied = cluster.review("/validate", admission_request(bad))
    assert denied["allowed"] is False and "images must come from ghcr.io" in denied["status"]["message"]
    good = obj("Deployment", "apps/v1", annotations={"registry": "ghcr.io"})
    good["spec"] = {"template": {"metadata": {"labels": {"app": "x"}}}}  # require-app's autogen rule
    assert cluster.review("/validate", admission_request(good))["allowed"] is True


def test_api_call_context(cluster):
    assert cluster.review("/validate", admission_request(obj("ServiceAccount")))["allowed"] is True
    broken = cluster.review("/validate", admission_request(obj("Service")))
    assert broken["allowed"] is False
    assert "verno could not evaluate this rule (failurePolicy Fail): failed to load context" in broken["status"]["message"]
    assert "HTTP 500" in broken["status"]["message"]


def test_hanging_rule_answered_by_failure_policy_within_timeout(cluster):
    started = time.monotonic()
    fail = cluster.review("/validate", admission_request(obj("ConfigMap")))
    assert time.monotonic() - started < TIMEOUT + 5  # a bound: the slow path answers after 30s
    assert fail["allowed"] is False
    assert fail["status"]["message"] == (
        "verno could not evaluate policies slow-fail for resource ConfigMap/default/x (failurePolicy Fail): "
        f"evaluation did not finish within the {TIMEOUT:g}s timeout")
    started = time.monotonic()
    ignore = cluster.review("/validate", admission_request(obj("Secret")))
    assert time.monotonic() - started < TIMEOUT + 5
    assert ignore["allowed"] is True
    assert ignore["warnings"] == ["verno could not evaluate policies slow-ignore; allowed by failurePolicy Ignore: "
                                  f"evaluation did not finish within the {TIMEOUT:g}s timeout"]
    assert cluster.client.get("/health/liveness").status_code == 200


def test_watch_adds_changes_and_removes_policies(cluster):
    fake = cluster.fake
    svc_pod = pod(app="web", tier="gold")
    deny_gold = cluster_policy("deny-gold", pod_rule("no-gold", {
        "failureAction": "Enforce", "message": "no gold", "pattern": {"metadata": {"labels": {"tier": "!gold"}}}}))
    fake.put("clusterpolicies", deny_gold)
    _eventually(lambda: not cluster.review("/validate", admission_request(svc_pod))["allowed"])
    deny_gold["spec"]["rules"][0]["validate"]["failureAction"] = "Audit"
    fake.put("clusterpolicies", deny_gold)
    _eventually(lambda: cluster.review("/validate", admission_request(svc_pod))["allowed"])
    fake.put("clusterpolicies", {**deny_gold, "spec": {"rules": [{"name": "bad"}]}})  # invalid: logged, left out
    _eventually(lambda: "policy not loaded" in cluster.logs())
    fake.delete("clusterpolicies", "deny-gold")
    fake.put("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b", "labels": {"env": "prod"}}})
    _eventually(lambda: not cluster.review(
        "/validate", admission_request(pod(namespace="team-b", app="w", debug="1", owner="b")))["allowed"])
    assert cluster.review("/validate", admission_request(pod(app="web")))["allowed"] is True


def _eventually(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")
