"""Rules with context entries, In-family conditions over literal lists, and scalar patterns over lists:
their migrations load and decide as the originals, resource by resource (``--check``'s comparison)."""
from __future__ import annotations

import pytest
import yaml

from verno.cli.migrate import migrate_paths
from verno.cli.migrate_check import check
from verno.core.engine import Engine


def _policy(rule):
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
            "spec": {"validationFailureAction": "Enforce", "rules": [
                {"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, **rule}]}}


def _pod(name, labels=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                            "labels": labels or {}},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}


def _run(tmp_path, rule, resources):
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(_policy(rule)))
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump_all(resources))
    engine = Engine()
    policy_set, migrations = migrate_paths(engine, [str(tmp_path / "policy.yaml")])
    [migration] = migrations
    return migration, check(engine, policy_set, migrations, [str(tmp_path / "resources.yaml")])


RULES = {
    "variable-jmespath-default": {
        "context": [{"name": "team", "variable": {"jmesPath": "request.object.metadata.labels.team",
                                                  "default": "none"}}],
        "validate": {"message": "team {{ team }}", "deny": {"conditions": {"any": [
            {"key": "{{ team }}", "operator": "Equals", "value": "none"}]}}}},
    "variable-value-jmespath": {
        "context": [{"name": "obj", "variable": {"value": {"nm": "{{ request.object.metadata.name }}"},
                                                 "jmesPath": "nm"}}],
        "validate": {"deny": {"conditions": {"all": [{"key": "{{ obj }}", "operator": "Equals", "value": "bad"}]}}}},
    "precondition-reads-a-variable": {
        "context": [{"name": "app-name", "variable": {"jmesPath": "request.object.metadata.labels.app || ''"}}],
        "preconditions": {"all": [{"key": "{{ \"app-name\" }}", "operator": "NotEquals", "value": ""}]},
        "validate": {"deny": {"conditions": {"all": [{"key": "{{ request.object.spec.hostNetwork || `false` }}",
                                                      "operator": "Equals", "value": True}]}}}},
    "in-literal-list": {
        "preconditions": {"all": [{"key": "{{ request.operation }}", "operator": "AllIn",
                                   "value": ["CREATE", "UPDATE"]}]},
        "validate": {"deny": {"conditions": {"any": [{"key": "{{ request.object.metadata.name }}",
                                                      "operator": "AnyIn", "value": ["bad", "worse"]}]}}}},
    "scalar-pattern-over-a-list": {
        "validate": {"pattern": {"spec": {"=(securityContext)": {"=(supplementalGroups)": "100-200 | 500-600"}}}}},
    "length-of-a-projection": {
        "validate": {"deny": {"conditions": {"any": [{"key": "{{ request.object.spec.containers[] | length(@) }}",
                                                      "operator": "GreaterThan", "value": 1}]}}}},
}

RESOURCES = [
    _pod("good", {"team": "a", "app": "api"}),
    _pod("bad", {"app": "web"}, hostNetwork=True),
    _pod("worse"),
    _pod("groups-in", securityContext={"supplementalGroups": [150, 550]}),
    _pod("groups-out", securityContext={"supplementalGroups": [150, 300]}),
    _pod("groups-empty", securityContext={"supplementalGroups": []}),
    {**_pod("two"), "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}},
]


@pytest.mark.parametrize("name", RULES)
def test_the_migration_decides_as_the_original(tmp_path, name):
    migration, (count, comparisons, differences) = _run(tmp_path, RULES[name], RESOURCES)
    assert migration.whole, migration.untranslated
    assert comparisons == len(RESOURCES) and not differences, differences


def test_context_entries_become_variables_and_preconditions_inline_them(tmp_path):
    migration, _ = _run(tmp_path, RULES["precondition-reads-a-variable"], RESOURCES)
    [doc] = migration.documents
    assert doc["spec"]["variables"][0]["name"] == "app_name"
    condition = doc["spec"]["matchConditions"][0]["expression"]
    assert "variables." not in condition and "object.metadata" in condition


def test_a_configmap_and_an_apicall_read_the_cluster():
    from verno.core.migration.context import translate_context
    from verno.core.migration.expressions import Scope
    from verno.core.models.policy import Rule

    rule = Rule.model_validate({
        "name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "context": [{"name": "cm", "configMap": {"name": "settings", "namespace": "team"}},
                    {"name": "ns", "apiCall": {"urlPath": "/api/v1/namespaces/{{ request.namespace }}",
                                               "jmesPath": "metadata.labels.env || 'dev'"}},
                    {"name": "ings", "apiCall": {"urlPath": "/apis/networking.k8s.io/v1/ingresses"}}],
        "validate": {"deny": {"conditions": {"any": [{"key": "{{ cm.data.x }}{{ ns }}{{ ings.items }}",
                                                      "operator": "Equals", "value": "a"}]}}}})
    variables, _, _ = translate_context(rule, rule.context, Scope())
    exprs = {v["name"]: v["expression"] for v in variables}
    assert 'resource.Get("v1", "configmaps", "team", "settings")' in exprs["cm"]
    assert 'resource.Get("v1", "namespaces", "", request["namespace"])' in exprs["ns"]
    assert exprs["ings"] == 'resource.List("networking.k8s.io/v1", "ingresses", "")'


@pytest.mark.parametrize("rule, words", [
    ({"context": [{"name": "cm", "configMap": {"name": "c"}}], "validate": {"deny": {}}}, "never read"),
    ({"context": [{"name": "x", "apiCall": {"urlPath": "/api/v1/pods?labelSelector=a", "jmesPath": "items"}}],
      "validate": {"deny": {"conditions": {"any": [{"key": "{{x}}", "operator": "Equals", "value": 1}]}}}},
     "query parameters"),
    ({"validate": {"deny": {"conditions": {"any": [{"key": "{{ request.object.metadata.name }}",
                                                    "operator": "AnyIn", "value": ["a*"]}]}}}}, "wildcards"),
])
def test_what_cannot_be_kept_exactly_is_left_with_the_reason(tmp_path, rule, words):
    migration, _ = _run(tmp_path, rule, RESOURCES[:1])
    assert not migration.whole and words in migration.untranslated[0][1]
