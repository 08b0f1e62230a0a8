"""DeletingPolicy: loading as the API server checks it, and the verdict of whether a resource would be deleted
(as `kyverno test` gives it), through the engine as every front end calls it."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import yaml

import verno.plugins.deletingpolicy as dpol
from verno.core.engine import Engine
from verno.core.errors import LoadError
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources


@pytest.fixture(scope="module")
def engine() -> Engine:
    if any(ep.name == "deletingpolicy" for ep in entry_points(group="verno")):
        return Engine()
    return Engine([("deletingpolicy", dpol)])


POLICY = """
apiVersion: policies.kyverno.io/v1
kind: DeletingPolicy
metadata: {name: stale-test-pods}
spec:
  schedule: "0 1 * * *"
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}
  variables:
  - {name: env, expression: "namespaceObject.metadata.labels.?environment.orValue('none')"}
  conditions:
  - {name: in-test, expression: "variables.env == 'test'"}
  - {name: stale, expression: "object.metadata.labels.stale == 'true'"}
"""


def load(engine, text=POLICY, **changes):
    doc = yaml.safe_load(text)
    for path, value in changes.items():
        target = doc
        *parents, last = path.split(".")
        for key in parents:
            target = target[key]
        target[last] = value
    return dpol.load(Document("policy.yaml", 0, doc), engine)


def pod(name="p", namespace="team", **labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


NAMESPACES = {"team": {"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "team", "labels": {"environment": "test"}}},
              "prod": {"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "prod", "labels": {"environment": "prod"}}}}


def run(engine, policy, obj, *, exceptions=(), payload=False, operation="CREATE"):
    companions = {"policies.kyverno.io/PolicyException": [yaml.safe_load(e) for e in exceptions]} if exceptions else {}
    inputs = KindInputs(Sources(), companions, namespaces=NAMESPACES, engine=engine)
    request = Request({}, obj, "DELETE") if operation == "DELETE" else Request(obj, None, operation)
    out = engine.evaluate_kinds([policy], request, inputs, payload=payload)
    if not out:
        return None
    [rule] = out[0].rules
    assert (rule.name, rule.rule_type) == (policy.name, "Deletion")
    return rule.status, rule.message


def test_all_conditions_true_is_a_deletion_and_one_false_keeps_the_resource(engine):
    policy = load(engine)
    assert run(engine, policy, pod(stale="true")) == (Status.PASS, "resource matched")
    assert run(engine, policy, pod(stale="false")) == (Status.FAIL, "resource did not match")
    assert run(engine, policy, pod("p", "prod", stale="true")) == (Status.FAIL, "resource did not match")


def test_constraints_select_whatever_the_operation_and_unselected_objects_get_no_response(engine):
    policy = load(engine)
    assert run(engine, policy, pod(stale="true"), operation="UPDATE")[0] is Status.PASS
    assert run(engine, policy, pod(stale="true"), operation="DELETE")[0] is Status.PASS
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team"}}
    assert run(engine, policy, config) is None


def test_an_error_is_an_error_unless_a_condition_is_false(engine):
    policy = load(engine)
    assert run(engine, policy, pod()) [0] is Status.ERROR  # no label `stale`: no such key
    assert "failed to evaluate condition" in run(engine, policy, pod())[1]
    assert run(engine, policy, pod("p", "prod")) == (Status.FAIL, "resource did not match")  # false wins


def test_without_conditions_every_selected_object_would_be_deleted(engine):
    policy = load(engine, **{"spec.conditions": [], "spec.variables": []})
    assert run(engine, policy, pod()) == (Status.PASS, "resource matched")


def test_a_namespaced_policy_sees_its_namespace_only(engine):
    policy = load(engine, kind="NamespacedDeletingPolicy", **{"metadata.namespace": "prod",
                                                               "spec.conditions": [], "spec.variables": []})
    assert policy.key == "prod/stale-test-pods"
    assert run(engine, policy, pod("p", "prod"))[0] is Status.PASS
    assert run(engine, policy, pod("p", "team")) is None


def test_a_json_payload_skips_matching(engine):
    policy = load(engine, **{"spec.variables": [], "spec.conditions": [
        {"name": "key", "expression": "object.MetaArgs[0].Key == 'BUILD_PLATFORM'"}]})
    assert run(engine, policy, {"MetaArgs": [{"Key": "BUILD_PLATFORM"}]}, payload="json")[0] is Status.PASS
    assert run(engine, policy, {"MetaArgs": [{"Key": "OTHER"}]}, payload="json")[0] is Status.FAIL
    assert run(engine, policy, {"x": 1}, payload="envoy") is None


EXCEPTION = """
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: keep-pinned, namespace: team}
spec:
  policyRefs: [{name: stale-test-pods, kind: DeletingPolicy}]
  matchConditions:
  - {name: pinned, expression: "object.metadata.labels.?pinned.orValue('') == 'yes'"}
"""


def test_an_exception_keeps_the_resource(engine):
    policy = load(engine)
    assert run(engine, policy, pod(stale="true", pinned="yes"), exceptions=[EXCEPTION]) == \
        (Status.FAIL, "resource did not match")
    assert run(engine, policy, pod(stale="true"), exceptions=[EXCEPTION])[0] is Status.PASS


@pytest.mark.parametrize("changes, field, words", [
    ({"spec.schedule": "every day"}, "spec.schedule", "expected a cron expression"),
    ({"spec.schedule": "61 * * * *"}, "spec.schedule", "invalid schedule"),
    ({"spec.conditions": [{"name": "x", "expression": "object.a +"}]}, "spec.conditions[0].expression", "Syntax"),
    ({"spec.conditions": [{"name": "x", "expression": "request.operation == 'CREATE'"}]},
     "spec.conditions[0].expression", "undeclared reference to 'request"),
    ({"spec.conditions": [{"name": "x", "expression": "'a'"}]}, "spec.conditions[0].expression", "bool"),
    ({"spec.variables": [{"name": "v", "expression": "object.a +"}]}, "spec.variables[0].expression", "Syntax"),
    ({"spec.deletionPropagationPolicy": "Now"}, "spec.deletionPropagationPolicy", "Foreground"),
    ({"spec.validationActions": ["Deny"]}, "spec.validationActions", ""),
])
def test_load_errors_name_the_field(engine, changes, field, words):
    with pytest.raises(LoadError) as info:
        load(engine, **changes)
    message = str(info.value)
    assert field in message and words.lower() in message.lower(), message


def test_a_missing_schedule_is_an_error(engine):
    doc = yaml.safe_load(POLICY)
    del doc["spec"]["schedule"]
    with pytest.raises(LoadError, match="spec.schedule"):
        dpol.load(Document("policy.yaml", 0, doc), engine)


def test_it_is_never_an_admission_policy(engine):
    policy = load(engine)
    assert policy.admission is False and policy.background is False
    assert policy.schedule == "0 1 * * *"
