"""validate.cel and celPreconditions of kyverno.io/v1 rules, as Kyverno evaluates them (Kubernetes' VAP rules)."""
from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from verno.core.engine import Engine
from verno.core.errors import ContextLoadError, VernoError
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources

POD_MATCH = {"any": [{"resources": {"kinds": ["Pod"]}}]}
HOST_PATH = "!has(object.spec.volumes) || object.spec.volumes.all(volume, !has(volume.hostPath))"
HOST_PATH_MESSAGE = "HostPath volumes are forbidden. The field spec.volumes[*].hostPath must be unset."


def pod(name: str = "web", namespace: str = "team", labels: dict | None = None, host_path: bool = False,
        replicas_label: str | None = None) -> dict[str, Any]:
    volume = {"name": "data", "hostPath": {"path": "/var/log"}} if host_path else {"name": "data", "emptyDir": {}}
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}], "volumes": [volume]}}


def cel_policy(cel: dict[str, Any], *, preconditions: list[dict] | None = None, message: str = "",
               name: str = "disallow-host-path", kinds: tuple[str, ...] = ("Pod",)) -> Policy:
    rule: dict[str, Any] = {"name": "host-path", "match": {"any": [{"resources": {"kinds": list(kinds)}}]},
                            "validate": {"failureAction": "Audit", "cel": cel}}
    if message:
        rule["validate"]["message"] = message
    if preconditions is not None:
        rule["celPreconditions"] = preconditions
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                                  "metadata": {"name": name}, "spec": {"background": False, "rules": [rule]}})


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def run(engine: Engine, policy: Policy, request: Request | dict, sources: Sources | None = None):
    if isinstance(request, dict):
        request = Request(request)
    out = engine.evaluate([engine.prepare(policy)], request, sources=sources)
    assert len(out[0].rules) == 1, out[0].rules
    return out[0].rules[0]


# -- validations and messages ------------------------------------------------------------------------------

def test_host_path_pod_fails_with_the_expression_message(engine):
    policy = cel_policy({"expressions": [{"expression": HOST_PATH, "message": HOST_PATH_MESSAGE}]})
    bad = run(engine, policy, pod(host_path=True))
    assert (bad.status, bad.message) == (Status.FAIL, HOST_PATH_MESSAGE)
    good = run(engine, policy, pod())
    assert (good.status, good.message) == (Status.PASS, "Validation rule 'host-path' passed.")
    assert good.rule_type == "Validation"


def test_message_expression_wins_then_message_then_rule_message_then_the_expression(engine):
    expression = "object.metadata.name != 'web'"
    cases = [
        ({"messageExpression": "'pod ' + object.metadata.name + ' is reserved'", "message": "m"}, "",
         "pod web is reserved"),
        ({"message": "  the name web is reserved  "}, "rule message", "the name web is reserved"),
        ({}, "rule message", "rule message"),
        ({}, "", f"failed expression: {expression}"),
        # an empty, multi-line or failing messageExpression falls back, as Kubernetes does
        ({"messageExpression": "'  '", "message": "fallback"}, "", "fallback"),
        ({"messageExpression": "'line one\\nline two'", "message": "fallback"}, "", "fallback"),
        ({"messageExpression": "string(object.metadata.missing)", "message": "fallback"}, "", "fallback"),
        ({"messageExpression": "'" + "x" * 6000 + "'", "message": "fallback"}, "", "fallback"),
    ]
    for extra, rule_message, expected in cases:
        policy = cel_policy({"expressions": [{"expression": expression, **extra}]}, message=rule_message)
        response = run(engine, policy, pod())
        assert (response.status, response.message) == (Status.FAIL, expected), extra


def test_every_validation_is_checked_and_the_first_denial_is_reported(engine):
    policy = cel_policy({"expressions": [
        {"expression": "object.metadata.name.startsWith('w')", "message": "first"},
        {"expression": "object.spec.containers.size() > 1", "message": "second"},
        {"expression": "object.metadata.namespace == 'other'", "message": "third"},
    ]})
    assert run(engine, policy, pod()).message == "second"
    assert run(engine, policy, pod(name="api")).message == "first"


def test_an_evaluation_error_fails_the_rule_naming_the_expression(engine):
    policy = cel_policy({"expressions": [{"expression": "object.spec.nodeName == 'n1'", "message": "m"}]})
    response = run(engine, policy, pod())
    assert response.status == Status.FAIL
    assert response.message == "expression 'object.spec.nodeName == 'n1'' resulted in error: no such key: nodeName"


def test_variables_are_shared_and_a_failing_one_is_named(engine):
    policy = cel_policy({
        "variables": [{"name": "images", "expression": "object.spec.containers.map(c, c.image)"},
                      {"name": "node", "expression": "object.spec.nodeName"}],
        "expressions": [
            {"expression": "variables.images.all(i, i.contains(':'))", "message": "pin your images"},
            {"expression": "variables.node != 'master'", "message": "not on master"},
        ]})
    response = run(engine, policy, pod())
    assert response.status == Status.FAIL
    assert response.message == ("expression 'variables.node != 'master'' resulted in error: composited variable "
                                "\"node\" fails to evaluate: no such key: nodeName")
    unpinned = pod()
    unpinned["spec"]["containers"][0]["image"] = "nginx"
    unpinned["spec"]["nodeName"] = "worker"
    assert run(engine, policy, unpinned).message == "pin your images"


def test_request_old_object_and_user_are_visible(engine):
    policy = cel_policy({"expressions": [
        {"expression": "request.operation != 'UPDATE' || object.metadata.labels == oldObject.metadata.labels",
         "message": "labels are immutable"},
        {"expression": "request.userInfo.username != 'mallory'", "messageExpression":
            "'user ' + request.userInfo.username + ' may not touch ' + request.kind.kind + 's'"},
    ]})
    old, new = pod(labels={"app": "web"}), pod(labels={"app": "api"})
    assert run(engine, policy, Request(new, old, "UPDATE")).message == "labels are immutable"
    assert run(engine, policy, Request(new, None, "CREATE")).status == Status.PASS
    mallory = Request(new, None, "CREATE", user_info={"username": "mallory", "groups": ["dev"]})
    assert run(engine, policy, mallory).message == "user mallory may not touch Pods"


def test_delete_has_no_object(engine):
    policy = cel_policy({"expressions": [{"expression": "object == null && oldObject.metadata.name == 'web'"}]})
    assert run(engine, policy, Request({}, pod(), "DELETE")).status == Status.PASS


def test_namespace_object_offline_has_the_name_only(engine):
    policy = cel_policy({"expressions": [
        {"expression": "namespaceObject.metadata.name != 'default'", "message": "not in default"},
        {"expression": "!has(namespaceObject.metadata.labels)", "message": "no labels offline"},
    ]}, kinds=("Pod", "Namespace"))
    assert run(engine, policy, pod(namespace="default")).message == "not in default"
    assert run(engine, policy, pod(namespace="team")).status == Status.PASS
    ns_policy = cel_policy({"expressions": [{"expression": "namespaceObject == null"}]}, kinds=("Namespace",))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    assert run(engine, ns_policy, namespace).status == Status.PASS


class FakeCluster:
    """A cluster answering raw GETs from a dict of paths."""

    def __init__(self, answers: dict[str, Any]):
        self.answers = answers
        self.paths: list[str] = []

    def raw_get(self, url_path: str) -> Any:
        self.paths.append(url_path)
        if url_path not in self.answers:
            raise ContextLoadError(f"API call GET {url_path} returned HTTP 404")
        return copy.deepcopy(self.answers[url_path])


def test_namespace_object_online_is_read_from_the_cluster(engine):
    cluster = FakeCluster({"/api/v1/namespaces/team": {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team", "labels": {"env": "prod"}, "managedFields": [{"manager": "x"}]},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}})
    policy = cel_policy({"expressions": [{
        "expression": "namespaceObject.metadata.labels.env == 'prod' && namespaceObject.status.phase == 'Active'"
    }]})
    assert run(engine, policy, pod(), Sources(cluster=cluster)).status == Status.PASS
    missing = run(engine, policy, pod(namespace="gone"), Sources(cluster=cluster))
    assert missing.status == Status.ERROR
    assert missing.message.startswith("Error getting the resource's namespace: ")
    # a rule that does not read namespaceObject does not ask the cluster
    cluster.paths.clear()
    run(engine, cel_policy({"expressions": [{"expression": HOST_PATH}]}), pod(), Sources(cluster=cluster))
    assert cluster.paths == []


def test_audit_annotations_become_rule_properties(engine):
    policy = cel_policy({
        "expressions": [{"expression": HOST_PATH, "message": HOST_PATH_MESSAGE}],
        "auditAnnotations": [
            {"key": "host-path-volumes", "valueExpression":
                "string(object.spec.volumes.filter(v, has(v.hostPath)).size()) + ' hostPath volumes'"},
            {"key": "never", "valueExpression": "null"},
            {"key": "blank", "valueExpression": "'  '"},
        ]})
    bad = run(engine, policy, pod(host_path=True))
    assert bad.status == Status.FAIL
    assert bad.properties == {"host-path-volumes": "1 hostPath volumes"}
    assert run(engine, policy, pod()).properties == {"host-path-volumes": "0 hostPath volumes"}


# -- celPreconditions -------------------------------------------------------------------------------------

def test_cel_preconditions_skip_when_one_is_false(engine):
    policy = cel_policy({"expressions": [{"expression": HOST_PATH, "message": HOST_PATH_MESSAGE}]},
                        preconditions=[{"name": "Label should be red",
                                        "expression": "object.metadata.labels['color'] == 'red'"}])
    skipped = run(engine, policy, pod(labels={"color": "blue"}, host_path=True))
    assert (skipped.status, skipped.message) == (Status.SKIP, "cel preconditions not met")
    assert run(engine, policy, pod(labels={"color": "red"}, host_path=True)).status == Status.FAIL
    assert run(engine, policy, pod(labels={"color": "red"})).status == Status.PASS


def test_cel_precondition_errors_fail_unless_another_is_false(engine):
    broken = {"name": "has-tier", "expression": "object.metadata.labels.tier == 'web'"}
    policy = cel_policy({"expressions": [{"expression": "true"}]}, preconditions=[broken])
    response = run(engine, policy, pod(labels={}))
    assert response.status == Status.FAIL
    assert response.message == ("expression 'object.metadata.labels.tier == 'web'' resulted in error: "
                                "no such key: tier")
    both = cel_policy({"expressions": [{"expression": "true"}]},
                      preconditions=[broken, {"name": "red", "expression": "object.metadata.name == 'other'"}])
    assert run(engine, both, pod(labels={})).status == Status.SKIP
    two = cel_policy({"expressions": [{"expression": "true"}]},
                     preconditions=[broken, {"name": "b", "expression": "object.spec.nodeName == 'x'"}])
    assert run(engine, two, pod(labels={})).message.startswith("[expression 'object.metadata.labels.tier")


def test_legacy_preconditions_still_apply_before_cel(engine):
    policy = cel_policy({"expressions": [{"expression": "false", "message": "always"}]})
    policy.spec.rules[0].preconditions = Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "x"},
        "spec": {"rules": [{"name": "r", "match": POD_MATCH, "preconditions": {"all": [
            {"key": "{{ request.object.metadata.name }}", "operator": "Equals", "value": "api"}]},
            "validate": {"cel": {"expressions": [{"expression": "true"}]}}}]}}).spec.rules[0].preconditions
    assert run(engine, policy, pod()).status == Status.SKIP
    assert run(engine, policy, pod(name="api")).message == "always"


# -- params -----------------------------------------------------------------------------------------------

REPLICAS = {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "expressions": [{"expression": "size(object.spec.containers) <= int(params.data.maxContainers)",
                             "messageExpression": "'at most ' + params.data.maxContainers + ' containers'"}]}


def limits(name: str, value: str, namespace: str = "team", labels: dict | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "data": {"maxContainers": value}}


def test_params_by_name_are_read_in_the_object_namespace(engine):
    policy = cel_policy({**REPLICAS, "paramRef": {"name": "limits"}})
    sources = Sources(params=[limits("limits", "0", namespace="other"), limits("limits", "1")])
    assert run(engine, policy, pod(), sources).status == Status.PASS
    two = pod()
    two["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    assert run(engine, policy, two, sources).message == "at most 1 containers"
    explicit = cel_policy({**REPLICAS, "paramRef": {"name": "limits", "namespace": "other"}})
    assert run(engine, explicit, pod(), sources).message == "at most 0 containers"


def test_a_missing_param_is_an_error(engine):
    policy = cel_policy({**REPLICAS, "paramRef": {"name": "limits"}})
    response = run(engine, policy, pod(), Sources(params=[]))
    assert response.status == Status.ERROR
    assert response.message == 'error in parameterized resource: configmaps "limits" not found'


def test_params_by_selector_each_validate(engine):
    policy = cel_policy({**REPLICAS, "paramRef": {"selector": {"matchLabels": {"policy": "containers"}}}})
    sources = Sources(params=[limits("a", "3", labels={"policy": "containers"}),
                              limits("b", "0", labels={"policy": "containers"}),
                              limits("c", "0", labels={"policy": "other"})])
    assert run(engine, policy, pod(), sources).message == "at most 0 containers"
    only_a = Sources(params=sources.params[:1] + sources.params[2:])
    assert run(engine, policy, pod(), only_a).status == Status.PASS
    # none selected: nothing to validate (pass), unless parameterNotFoundAction is Deny
    assert run(engine, policy, pod(), Sources(params=[])).status == Status.PASS
    deny = cel_policy({**REPLICAS, "paramRef": {"selector": {"matchLabels": {"policy": "containers"}},
                                                "parameterNotFoundAction": "Deny"}})
    response = run(engine, deny, pod(), Sources(params=[]))
    assert (response.status, response.message) == (Status.ERROR, "error in parameterized resource: no params found")


def test_param_scope_rules(engine):
    cluster_scoped = cel_policy({"paramKind": {"apiVersion": "v1", "kind": "Namespace"},
                                 "paramRef": {"name": "team", "namespace": "team"},
                                 "expressions": [{"expression": "params.metadata.name == 'team'"}]})
    assert run(engine, cluster_scoped, pod(), Sources()).message == (
        "error in parameterized resource: paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
    namespaced = cel_policy({**REPLICAS, "paramRef": {"name": "limits"}}, kinds=("Namespace",))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    assert run(engine, namespaced, namespace, Sources()).message == (
        "error in parameterized resource: can't use namespaced paramRef to match cluster-scoped resources")


def test_params_online_come_from_the_cluster(engine):
    cluster = FakeCluster({
        "/api/v1/namespaces/team/configmaps/limits": limits("limits", "0"),
        "/api/v1/namespaces/team/configmaps?labelSelector=policy%3Dcontainers%2Ctier+in+%28a%2Cb%29":
            {"kind": "ConfigMapList", "items": [limits("a", "5")]},
    })
    by_name = cel_policy({**REPLICAS, "paramRef": {"name": "limits"}})
    assert run(engine, by_name, pod(), Sources(cluster=cluster)).message == "at most 0 containers"
    selector = {"matchLabels": {"policy": "containers"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
    by_selector = cel_policy({**REPLICAS, "paramRef": {"selector": selector}})
    assert run(engine, by_selector, pod(), Sources(cluster=cluster)).status == Status.PASS
    missing = cel_policy({**REPLICAS, "paramRef": {"name": "gone"}})
    assert run(engine, missing, pod(), Sources(cluster=cluster)).message == (
        'error in parameterized resource: configmaps "gone" not found')


# -- load-time errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("cel, preconditions, field, detail", [
    ({"expressions": [{"expression": "object.spec.containers.size( > 0"}]}, None,
     "validate.cel.expressions[0].expression", "syntax error"),
    ({"expressions": [{"expression": "object.metadata.name"}]}, None,
     "validate.cel.expressions[0].expression", "output is expected to be of type bool, got dyn"),
    ({"expressions": [{"expression": "true", "messageExpression": "object.spec.replicas > 1"}]}, None,
     "validate.cel.expressions[0].messageExpression", "output is expected to be of type string, got bool"),
    ({"expressions": [{"expression": "params.x == 1"}]}, None,
     "validate.cel.expressions[0].expression", "undeclared reference to 'params"),
    ({"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "expressions": [{"expression": "params.x == 1"}]},
     None, "validate.cel.expressions[0].expression", "undeclared reference to 'params"),
    ({"expressions": [{"expression": "true", "messageExpression": "string(authorizer)"}]}, None,
     "validate.cel.expressions[0].messageExpression", "undeclared reference to 'authorizer'"),
    ({"variables": [{"name": "a", "expression": "object.metadata.name"},
                    {"name": "b", "expression": "variables.a +"}], "expressions": [{"expression": "true"}]},
     None, "validate.cel.variables[1].expression", "syntax error"),
    ({"expressions": [{"expression": "true"}]}, [{"name": "p", "expression": "object.metadata.name"}],
     "celPreconditions[0].expression", "output is expected to be of type bool"),
    ({"expressions": [{"expression": "true"}], "auditAnnotations": [{"key": "k", "valueExpression": "1"}]},
     None, "validate.cel.auditAnnotations[0].valueExpression", "output is expected to be of type string or null"),
    ({"expressions": [{"expression": "request.usrInfo.username == 'a'"}]}, None,
     "validate.cel.expressions[0].expression", "undefined field 'usrInfo'"),
])
def test_an_expression_that_does_not_compile_stops_the_policy_load(engine, cel, preconditions, field, detail):
    policy = cel_policy(cel, preconditions=preconditions)
    with pytest.raises(VernoError) as info:
        engine.prepare(policy)
    message = str(info.value)
    assert message.startswith(f"policy disallow-host-path: spec.rules[host-path].{field}: compiling CEL expression")
    assert detail in message


def test_autogen_rules_are_compiled_and_evaluated_on_controllers(engine):
    policy = cel_policy({"expressions": [{"expression": HOST_PATH, "message": HOST_PATH_MESSAGE}]})
    prepared = engine.prepare(policy)
    assert {r.name for r in prepared.rules} == {"host-path", "autogen-host-path", "autogen-cronjob-host-path"}
    assert all("validate.cel" in r.compiled for r in prepared.rules)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "team"},
                  "spec": {"template": {"spec": pod(host_path=True)["spec"]}}}
    out = engine.evaluate([prepared], Request(deployment))
    assert [(r.name, r.status, r.message) for r in out[0].rules] == [
        ("autogen-host-path", Status.FAIL, HOST_PATH_MESSAGE)]


@pytest.mark.parametrize("rule, location, words", [
    ({"name": "r", "match": POD_MATCH, "celPreconditions": [{"name": "a", "expression": "true"}],
      "validate": {"pattern": {"metadata": {"name": "?*"}}}},
     ("spec", "rules", 0), "celPreconditions are only allowed in validate.cel rules"),
    ({"name": "r", "match": POD_MATCH, "validate": {"cel": {"expressions": [{"message": "m"}]}}},
     ("spec", "rules", 0, "validate", "cel", "expressions", 0, "expression"), "Field required"),
    ({"name": "r", "match": POD_MATCH, "validate": {"cel": {"expressions": [{"expression": "true"}],
                                                              "paramRef": {"name": "a", "selector": {}}}}},
     ("spec", "rules", 0, "validate", "cel", "paramRef"), "set exactly one"),
    ({"name": "r", "match": POD_MATCH, "celPreconditions": [{"expression": "true"}],
      "validate": {"cel": {"expressions": [{"expression": "true"}]}}},
     ("spec", "rules", 0, "celPreconditions", 0, "name"), "Field required"),
    ({"name": "r", "match": POD_MATCH, "validate": {"cel": {
        "expressions": [{"expression": "true"}],
        "variables": [{"name": "a", "expression": "1"}, {"name": "a", "expression": "2"}]}}},
     ("spec", "rules", 0, "validate", "cel", "variables"), "variable 'a' is defined twice"),
])
def test_the_typed_model_names_the_field(rule, location, words):
    with pytest.raises(ValidationError) as info:
        Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
                               "spec": {"rules": [rule]}})
    errors = info.value.errors()
    assert any(e["loc"] == location and words in e["msg"] for e in errors), errors
