"""MutatingAdmissionPolicy: offline as Kyverno's CLI (bindings, params), at admission as the API server."""
from __future__ import annotations

import dataclasses
from importlib.metadata import entry_points

import pytest
import yaml

import verno.plugins.mutatingadmissionpolicy as mapol
from verno.core.engine import Engine
from verno.core.errors import LoadError
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources

POLICY = """
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: replicas}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  failurePolicy: FAILURE
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  matchConditions: [{name: not-frozen, expression: "!has(object.metadata.labels) || !('frozen' in object.metadata.labels)"}]
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{spec: Object.spec{replicas: int(params.items[0].data.replicas)}}"
  - patchType: JSONPatch
    jsonPatch:
      expression: "[JSONPatch{op: 'add', path: '/metadata/annotations', value: {'r': string(object.spec.replicas)}}]"
"""
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1beta1", "kind": "MutatingAdmissionPolicyBinding",
           "metadata": {"name": "b"},
           "spec": {"policyName": "replicas", "paramRef": {"namespace": "default",
                                                           "selector": {"matchLabels": {"kind": "replicas"}}}}}
PARAM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p", "namespace": "default",
                                                               "labels": {"kind": "replicas"}},
         "data": {"replicas": "4"}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
          "spec": {"replicas": 1.0}}


@pytest.fixture(scope="module")
def engine() -> Engine:
    if any(ep.name == "mutatingadmissionpolicy" for ep in entry_points(group="verno")):
        return Engine()
    return Engine([("mutatingadmissionpolicy", mapol)])


def load(engine, failure="Fail", text=POLICY):
    return mapol.POLICY_KIND.load(Document("p.yaml", 0, yaml.safe_load(text.replace("FAILURE", failure))), engine)


def run(engine, policy, obj, *, bindings=(BINDING,), params=(PARAM,), webhook=""):
    sources = dataclasses.replace(Sources(), webhook=webhook) if webhook else Sources()
    inputs = KindInputs(sources, {mapol.BINDING: list(bindings)}, params=list(params), engine=engine)
    out = engine.evaluate_kinds([policy], Request(obj), inputs)
    return out[0] if out else None


def test_offline_binding_params_and_mutations_in_order(engine):
    response = run(engine, load(engine), DEPLOY)
    rule = response.rules[0]
    assert (rule.name, rule.status, rule.message) == ("replicas", Status.PASS, "mutation is successfully applied")
    assert rule.properties == {"binding": "b"}
    assert response.patched_resource["spec"]["replicas"] == 4
    assert response.patched_resource["metadata"]["annotations"] == {"r": "4"}


def test_offline_false_match_condition_skips(engine):
    frozen = {**DEPLOY, "metadata": {**DEPLOY["metadata"], "labels": {"frozen": "y"}}}
    rule = run(engine, load(engine), frozen).rules[0]
    assert (rule.status, rule.message) == (Status.SKIP, "match conditions aren't met")


def test_offline_failed_mutation_gives_no_rule(engine):
    response = run(engine, load(engine), DEPLOY, params=())  # params is null: params.items fails
    assert response.rules == [] and response.patched_resource == DEPLOY


def test_offline_lists_are_atomic_without_the_kinds_schema(engine):
    text = POLICY.replace("int(params.items[0].data.replicas)}", "1}, metadata: Object.metadata{finalizers: ['f']}")
    assert run(engine, load(engine, text=text), DEPLOY, bindings=()).rules == []


def test_admission_needs_a_binding_and_fails_by_failure_policy(engine):
    # at admission each param is one evaluation (no List); a named param that is missing skips the binding
    text = POLICY.replace("params.items[0].data.replicas", "params.data.replicas")
    named = {**BINDING, "spec": {"policyName": "replicas", "paramRef": {"name": "p", "namespace": "default"}}}
    assert run(engine, load(engine, text=text), DEPLOY, bindings=(), webhook="mutate") is None
    response = run(engine, load(engine, text=text), DEPLOY, bindings=(named,), webhook="mutate")
    assert response.patched_resource["spec"]["replicas"] == 4
    assert run(engine, load(engine, text=text), DEPLOY, bindings=(named,), params=(), webhook="mutate") is None
    broken = {**PARAM, "data": {"replicas": "four"}}
    failed = run(engine, load(engine, text=text), DEPLOY, bindings=(named,), params=(broken,), webhook="mutate")
    assert [r.status for r in failed.rules] == [Status.ERROR]
    lenient = run(engine, load(engine, "Ignore", text), DEPLOY, bindings=(named,), params=(broken,),
                  webhook="mutate")
    assert [r.status for r in lenient.rules] == [Status.SKIP]


def test_params_without_param_kind_is_a_load_error(engine):
    with pytest.raises(LoadError) as err:
        load(engine, text=POLICY.replace("  paramKind: {apiVersion: v1, kind: ConfigMap}\n", ""))
    assert "params" in str(err.value) and err.value.field == "spec.mutations[0].applyConfiguration.expression"
