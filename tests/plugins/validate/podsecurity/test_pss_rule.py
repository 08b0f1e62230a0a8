"""The rule through the engine: messages, properties, controllers and CronJobs, PolicyExceptions."""
from __future__ import annotations

import json
from typing import Any

import pytest

from verno.core.engine import Engine
from verno.core.models.exception import PolicyException
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def psa(level: str = "baseline", version: str = "latest", exclude: list | None = None,
        kinds: tuple[str, ...] = ("Pod",)) -> Policy:
    pod_security: dict[str, Any] = {"level": level, "version": version}
    if exclude:
        pod_security["exclude"] = exclude
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "psa"},
                                  "spec": {"rules": [{"name": level, "match": {"any": [{"resources": {
                                      "kinds": list(kinds)}}]}, "validate": {"podSecurity": pod_security}}]}})


def exception(pod_security: list[dict] | None, name: str = "allow") -> PolicyException:
    spec: dict[str, Any] = {"exceptions": [{"policyName": "psa", "ruleNames": ["baseline"]}],
                            "match": {"any": [{"resources": {"namespaces": ["staging"]}}]}}
    if pod_security is not None:
        spec["podSecurity"] = pod_security
    return PolicyException.model_validate({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
                                           "metadata": {"name": name, "namespace": "kyverno"}, "spec": spec})


def pod(ns: str = "default", **spec: Any) -> dict[str, Any]:
    body = {"containers": [{"name": "nginx", "image": "nginx"}], **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns}, "spec": body}


def run(engine: Engine, policy: Policy, resource: dict, exceptions=(), **kw: Any):
    [response] = engine.evaluate([engine.prepare(policy)], Request(resource, **kw), exceptions=list(exceptions))
    return response.rules


HOST_PATH = [{"name": "host", "hostPath": {"path": "/var/lib1"}}]


def test_pass_message(engine):
    [rule] = run(engine, psa(), pod())
    assert (rule.status, rule.message) == (Status.PASS, "Validation rule 'baseline' passed.")
    assert "controls" not in rule.properties


def test_fail_message_and_properties(engine):
    [rule] = run(engine, psa(), pod(volumes=HOST_PATH, hostNetwork=True))
    assert rule.status == Status.FAIL
    assert rule.message == (
        "Validation rule 'baseline' failed. It violates PodSecurity \"baseline:latest\": "
        "(Forbidden reason: host namespaces, field error list: [spec.hostNetwork is forbidden, forbidden values "
        "found: true])(Forbidden reason: hostPath volumes, field error list: [spec.volumes[0].hostPath is "
        "forbidden, forbidden values found: /var/lib1])")
    assert rule.properties["standard"] == "baseline"
    assert rule.properties["version"] == "latest"
    assert rule.properties["controls"] == "hostNamespaces,hostPathVolumes"
    assert json.loads(rule.properties["controlsJSON"]) == [
        {"ID": "hostNamespaces", "Name": "Host Namespaces", "Images": None},
        {"ID": "hostPathVolumes", "Name": "HostPath Volumes", "Images": None}]


def test_images_of_failing_containers_in_properties(engine):
    resource = pod()
    resource["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    [rule] = run(engine, psa(), resource)
    assert json.loads(rule.properties["controlsJSON"]) == [
        {"ID": "privileged", "Name": "Privileged Containers", "Images": ["docker.io/nginx:latest"]}]


def test_deployment_through_autogen_reports_template_paths(engine):
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
              "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": pod(hostPID=True)["spec"]}}}
    [rule] = run(engine, psa(), deploy)
    assert (rule.name, rule.status) == ("autogen-baseline", Status.FAIL)
    assert "spec.template.spec.hostPID is forbidden" in rule.message


def test_cronjob_reports_job_template_paths(engine):
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "default"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": pod(hostIPC=True)["spec"]}}}}}
    [rule] = run(engine, psa(), cron)
    assert (rule.name, rule.status) == ("autogen-cronjob-baseline", Status.FAIL)
    assert "spec.jobTemplate.spec.template.spec.hostIPC is forbidden" in rule.message


def test_rule_excludes(engine):
    policy = psa(exclude=[{"controlName": "HostPath Volumes"}])
    [rule] = run(engine, policy, pod(volumes=HOST_PATH))
    assert rule.status == Status.PASS


def test_delete_gives_no_response(engine):
    resource = pod(volumes=HOST_PATH)
    assert run(engine, psa(), {}, old_resource=resource, operation="DELETE") == []


def test_exception_with_pod_security_forgives_what_it_names(engine):
    exc = exception([{"controlName": "HostPath Volumes", "restrictedField": "spec.volumes[*].hostPath",
                      "values": ["/var/lib1"]}])
    [rule] = run(engine, psa(), pod("staging", volumes=HOST_PATH), [exc])
    assert (rule.status, rule.message, rule.exception) == (
        Status.SKIP, "rule skipped due to policy exception kyverno/allow", "kyverno/allow")
    # another namespace: the exception does not match, the rule fails
    [rule] = run(engine, psa(), pod(volumes=HOST_PATH), [exc])
    assert rule.status == Status.FAIL
    # a failure the exception does not name still fails the rule, and only it is reported
    [rule] = run(engine, psa(), pod("staging", volumes=HOST_PATH, hostPID=True), [exc])
    assert rule.status == Status.FAIL
    assert "hostPath" not in rule.message and "spec.hostPID" in rule.message
    # values that do not match forgive nothing
    other = exception([{"controlName": "HostPath Volumes", "values": ["/etc"]}])
    [rule] = run(engine, psa(), pod("staging", volumes=HOST_PATH), [other])
    assert rule.status == Status.FAIL


def test_exception_with_pod_security_on_a_passing_pod(engine):
    exc = exception([{"controlName": "HostPath Volumes"}])
    [rule] = run(engine, psa(), pod("staging"), [exc])
    assert rule.status == Status.PASS


def test_exception_without_pod_security_skips(engine):
    [rule] = run(engine, psa(), pod("staging", volumes=HOST_PATH), [exception(None)])
    assert (rule.status, rule.message) == (Status.SKIP, "rule is skipped due to policy exceptions")


def test_unsupported_kind_is_an_error(engine):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"}, "spec": {}}
    [rule] = run(engine, psa(kinds=("Service",)), service)
    assert rule.status == Status.ERROR
    assert "could not find correct resource type" in rule.message
