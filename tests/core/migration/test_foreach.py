"""validate.foreach rules: their migrations decide as the originals, resource by resource (``--check``'s
comparison), on resources chosen for each branch of Kyverno's foreach (empty, missing and non-list lists,
null elements, preconditions, element errors at and before the last element, elementScope)."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verno.cli.migrate import migrate_paths
from verno.cli.migrate_check import check
from verno.core.engine import Engine

ENGINE = Engine()


def _policy(rule):
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
            "spec": {"validationFailureAction": "Enforce", "rules": [
                {"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, **rule}]}}


def _pod(name, containers=None, **spec):
    body = {"containers": [{"name": "app", "image": "nginx"}] if containers is None else containers, **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": body}


def _run(tmp_path, rule, resources):
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(_policy(rule)))
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump_all(resources))
    policy_set, migrations = migrate_paths(ENGINE, [str(tmp_path / "policy.yaml")])
    [migration] = migrations
    return migration, check(ENGINE, policy_set, migrations, [str(tmp_path / "resources.yaml")])


def _deny(key, op, value):
    return {"deny": {"conditions": {"any": [{"key": key, "operator": op, "value": value}]}}}


RULES = {
    "deny-over-images": {"validate": {"message": "ghcr only", "foreach": [
        {"list": "request.object.spec.containers[].image", **_deny("{{ element }}", "NotEquals", "ghcr.io")}]}},
    "deny-over-a-field-of-each-element": {"validate": {"foreach": [
        {"list": "request.object.spec.containers", **_deny("{{ element.securityContext.privileged }}", "Equals",
                                                            True)}]}},
    "preconditions": {"validate": {"foreach": [
        {"list": "request.object.spec.containers",
         "preconditions": {"all": [{"key": "{{ element.name }}", "operator": "NotEquals", "value": "sidecar"}]},
         **_deny("{{ element.image }}", "Equals", "bad")}]}},
    "precondition-reads-a-missing-key": {"validate": {"foreach": [
        {"list": "request.object.spec.containers",
         "preconditions": {"all": [{"key": "{{ element.securityContext.runAsUser }}", "operator": "NotEquals",
                                    "value": 0}]},
         **_deny("{{ element.image }}", "Equals", "bad")}]}},
    "element-pattern": {"validate": {"foreach": [
        {"list": "request.object.spec.containers", "pattern": {"image": "!*:latest", "=(ports)": [{"containerPort": "<1024"}]}}]}},
    "element-any-pattern": {"validate": {"foreach": [
        {"list": "request.object.spec.containers", "anyPattern": [{"name": "app"}, {"image": "ghcr.io/*"}]}]}},
    "object-pattern-per-element": {"validate": {"foreach": [
        {"list": "request.object.spec.volumes", "elementScope": False,
         "pattern": {"spec": {"containers": [{"name": "?*"}]}}}]}},
    "missing-list-and-two-entries": {"validate": {"foreach": [
        {"list": "request.object.spec.initContainers", **_deny("{{ element.image }}", "Equals", "bad")},
        {"list": "request.object.spec.containers", **_deny("{{ element.name }}", "Equals", "forbidden")}]}},
    "element-index": {"validate": {"foreach": [
        {"list": "request.object.spec.containers", **_deny("{{ elementIndex }}", "GreaterThan", 1)}]}},
    "deny-without-conditions": {"validate": {"foreach": [
        {"list": "request.object.spec.containers[?name == 'bad']", "deny": {}}]}},
}

RESOURCES = [
    _pod("plain"),
    _pod("ghcr", [{"name": "app", "image": "ghcr.io"}]),
    _pod("empty", []),
    _pod("bad", [{"name": "bad", "image": "bad"}, {"name": "sidecar", "image": "x:latest"}]),
    _pod("sidecar-bad", [{"name": "sidecar", "image": "bad"}]),
    _pod("privileged", [{"name": "a", "image": "i", "securityContext": {"privileged": True}},
                        {"name": "b", "image": "j", "securityContext": {"privileged": False}}]),
    _pod("error-first", [{"name": "a", "image": "i"}, {"name": "b", "image": "j", "securityContext": {}}]),
    _pod("error-then-pass", [{"name": "a", "image": "i"}, {"name": "b", "image": "j",
                                                            "securityContext": {"privileged": False}}]),
    _pod("error-last", [{"name": "b", "image": "j", "securityContext": {"privileged": False, "runAsUser": 3}},
                        {"name": "a", "image": "i"}]),
    _pod("nulls", [None, {"name": "forbidden", "image": "ghcr.io/x"}, None]),
    _pod("ports", [{"name": "app", "image": "a:1", "ports": [{"containerPort": 80}, {"containerPort": 8080}]}]),
    _pod("three", [{"name": "app", "image": "a"}, {"name": "b", "image": "b"}, {"name": "c", "image": "c"}]),
    _pod("volumes", volumes=[{"name": "v"}, None]),
    _pod("not-a-list", "oops"),
    _pod("init", initContainers=[{"name": "i", "image": "bad"}]),
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-spec"}},
]


@pytest.mark.parametrize("name", RULES)
def test_the_migration_decides_as_the_original(tmp_path, name):
    migration, (count, comparisons, differences) = _run(tmp_path, RULES[name], RESOURCES)
    assert migration.whole, migration.untranslated
    assert comparisons == len(RESOURCES) and not differences, differences


@pytest.mark.parametrize("entry, words", [
    ({"list": "request.object.spec.containers", "elementScope": True, "pattern": {"name": "?*"}}, "elementScope"),
    ({"list": "request.object.spec.containers", "context": [{"name": "x", "variable": {"value": 1}}],
      **_deny("{{ x }}", "Equals", 1)}, "context"),
    ({"list": "request.object.spec.containers", "foreach": [{"list": "element.ports", "deny": {}}]}, "nested"),
    ({"list": "request.object.spec.containers", "pattern": {"(name)": "a", "image": "b"}}, "conditional anchor"),
    ({"list": "{{ request.object.kind }}", "deny": {}}, "variables"),
])
def test_what_cannot_be_kept_exactly_is_left_with_the_reason(tmp_path, entry, words):
    migration, _ = _run(tmp_path, {"validate": {"foreach": [entry]}}, RESOURCES[:1])
    assert not migration.whole and words in migration.untranslated[0][1]


_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["", "bad", "x:latest"]))
_container = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["app", "sidecar", "bad"]), "image": _scalar,
    "securityContext": st.one_of(_scalar, st.fixed_dictionaries({}, optional={"privileged": _scalar}))}))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers=st.one_of(st.lists(_container, max_size=3), _scalar))
def test_any_container_list_is_decided_alike(tmp_path_factory, containers):
    tmp = tmp_path_factory.mktemp("foreach")
    for name in ("deny-over-a-field-of-each-element", "preconditions", "element-pattern"):
        migration, (_, _, differences) = _run(tmp, RULES[name], [_pod("x", containers)])
        assert not differences, (name, differences)
