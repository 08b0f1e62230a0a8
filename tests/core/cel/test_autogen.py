"""core/cel/autogen.py: Pod-controller variants of CEL policies (Kyverno's pkg/cel/autogen)."""
from __future__ import annotations

import pytest

from verno.core.cel.autogen import controllers_of, eligible, pod_controller_variants, rewrite_pod_paths

PODS = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                           "operations": ["CREATE", "UPDATE"]}],
        "namespaceSelector": {"matchLabels": {"env": "prod"}}}


@pytest.mark.parametrize("constraints,expected", [
    (PODS, True),
    (None, False),
    ({"resourceRules": [{**PODS["resourceRules"][0], "resources": ["pods", "services"]}]}, False),
    ({"resourceRules": [{**PODS["resourceRules"][0], "resourceNames": ["web"]}]}, False),
    ({**PODS, "excludeResourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}, False),
    ({**PODS, "objectSelector": {"matchLabels": {"a": "b"}}}, False),
    ({**PODS, "objectSelector": {}}, True),
    ({"resourceRules": PODS["resourceRules"] * 2}, False),
    ({"resourceRules": [{**PODS["resourceRules"][0], "apiVersions": ["*"]}]}, False),
])
def test_eligible(constraints, expected):
    assert eligible(constraints) is expected


def test_controllers():
    assert controllers_of({}) == ["daemonsets", "deployments", "replicasets", "statefulsets", "jobs", "cronjobs"]
    assert controllers_of({"autogen": {"podControllers": {"controllers": ["jobs"]}}}) == ["jobs"]
    assert controllers_of({"autogen": {"podControllers": {"controllers": []}}}) == []


def test_rewrite_keeps_the_namespace():
    text = "object.spec.containers + oldObject.metadata.labels + object.metadata.namespace + request.object.spec"
    assert rewrite_pod_paths(text, "defaults") == (
        "object.spec.template.spec.containers + oldObject.spec.template.metadata.labels + "
        "object.metadata.namespace + request.object.spec.template.spec")
    assert rewrite_pod_paths("object.spec.x", "cronjobs") == "object.spec.jobTemplate.spec.template.spec.x"


def test_variants_rewrite_the_whole_spec_and_constraints():
    spec = {"matchConstraints": PODS,
            "variables": [{"name": "c", "expression": "object.spec.containers"}],
            "validations": [{"expression": "size(variables.c) > 0", "message": "object.spec needs containers"}]}
    variants = dict(pod_controller_variants(spec))
    assert list(variants) == ["defaults", "cronjobs"]
    defaults = variants["defaults"]
    assert defaults["variables"][0]["expression"] == "object.spec.template.spec.containers"
    assert defaults["validations"][0]["message"] == "object.spec.template.spec needs containers"  # as Kyverno
    assert defaults["matchConstraints"] == {
        "resourceRules": [
            {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
             "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"]},
            {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["jobs"]},
        ],
        "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    assert variants["cronjobs"]["matchConstraints"]["resourceRules"] == [
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["cronjobs"]}]
    assert variants["cronjobs"]["variables"][0]["expression"] == "object.spec.jobTemplate.spec.template.spec.containers"
    assert spec["variables"][0]["expression"] == "object.spec.containers"  # the original is not touched


def test_no_variants_when_disabled_or_not_eligible():
    assert pod_controller_variants({"matchConstraints": PODS, "autogen": {"podControllers": {"controllers": []}}}) == []
    assert pod_controller_variants({"matchConstraints": {"resourceRules": [{"resources": ["services"]}]}}) == []
    only_jobs = pod_controller_variants({"matchConstraints": PODS,
                                         "autogen": {"podControllers": {"controllers": ["jobs"]}}})
    assert [c for c, _ in only_jobs] == ["defaults"]
    assert only_jobs[0][1]["matchConstraints"]["resourceRules"][0]["resources"] == ["jobs"]
