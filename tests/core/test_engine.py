"""Engine.evaluate: phase order, chaining of mutations, scope, applyRules."""
from __future__ import annotations

from verno.core.engine import Engine
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources


def policy(name: str, rules: list[dict], kind: str = "ClusterPolicy", namespace: str = "", **spec) -> Policy:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": kind, "metadata": meta,
                                  "spec": {"rules": rules, **spec}})


POD_MATCH = {"any": [{"resources": {"kinds": ["Pod"]}}]}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def statuses(responses):
    return [[(r.name, r.status) for r in resp.rules] for resp in responses]


def test_validate_sees_the_mutated_resource_whatever_the_policy_order():
    engine = Engine()
    validate = policy("require-non-root", [{"name": "check", "match": POD_MATCH, "validate": {
        "pattern": {"spec": {"securityContext": {"runAsNonRoot": True}}}}}])
    mutate = policy("default-non-root", [{"name": "set", "match": POD_MATCH, "mutate": {
        "patchStrategicMerge": {"spec": {"securityContext": {"+(runAsNonRoot)": True}}}}}])
    out = engine.evaluate([engine.prepare(validate), engine.prepare(mutate)], Request(POD))
    assert statuses(out) == [[("check", Status.PASS)], [("set", Status.PASS)]]
    assert out[1].patched_resource["spec"]["securityContext"] == {"runAsNonRoot": True}
    assert "securityContext" not in POD["spec"]  # the input is never modified


def test_mutate_existing_patches_targets_not_the_trigger():
    engine = Engine()
    target = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "team"},
              "data": {"a": "1"}}
    p = policy("touch-cm", [{"name": "touch", "match": POD_MATCH, "mutate": {
        "targets": [{"apiVersion": "v1", "kind": "ConfigMap", "namespace": "team", "name": "cm"}],
        "patchStrategicMerge": {"data": {"touched": "yes"}}}}])
    out = engine.evaluate([engine.prepare(p)], Request(POD), sources=Sources(cluster_resources=[target]))
    rules = out[0].rules
    assert [r.status for r in rules] == [Status.PASS]
    assert rules[0].patched_resource["data"] == {"a": "1", "touched": "yes"}
    assert out[0].patched_resource == POD


def test_namespaced_policy_applies_only_in_its_namespace():
    engine = Engine()
    rules = [{"name": "check", "match": POD_MATCH, "validate": {"pattern": {"metadata": {"name": "?*"}}}}]
    mine = engine.prepare(policy("mine", rules, kind="Policy", namespace="team"))
    other = engine.prepare(policy("other", rules, kind="Policy", namespace="elsewhere"))
    out = engine.evaluate([mine, other], Request(POD))
    assert statuses(out) == [[("check", Status.PASS)], []]


def test_apply_rules_one_stops_after_the_first_applied_rule():
    engine = Engine()
    rules = [{"name": f"r{i}", "match": POD_MATCH, "validate": {"pattern": {"metadata": {"name": "?*"}}}}
             for i in range(3)]
    out = engine.evaluate([engine.prepare(policy("one", rules, applyRules="One"))], Request(POD))
    assert statuses(out) == [[("r0", Status.PASS)]]
    out = engine.evaluate([engine.prepare(policy("all", rules))], Request(POD))
    assert len(out[0].rules) == 3


def test_phases_limit_the_rule_kinds_run():
    engine = Engine()
    p = policy("both", [
        {"name": "set", "match": POD_MATCH, "mutate": {"patchStrategicMerge": {"metadata": {"labels": {"+(x)": "1"}}}}},
        {"name": "check", "match": POD_MATCH, "validate": {"pattern": {"metadata": {"labels": {"x": "1"}}}}},
    ])
    prepared = engine.prepare(p)
    assert statuses(engine.evaluate([prepared], Request(POD), phases=("mutate",))) == [[("set", Status.PASS)]]
    assert statuses(engine.evaluate([prepared], Request(POD), phases=("validate",))) == [[("check", Status.FAIL)]]
    assert statuses(engine.evaluate([prepared], Request(POD))) == [[("set", Status.PASS), ("check", Status.PASS)]]


def test_rule_candidates_per_kind_are_not_shared_by_copies():
    import dataclasses

    engine = Engine()
    rules = [{"name": "pods", "match": POD_MATCH, "validate": {"pattern": {"metadata": {"name": "?*"}}}},
             {"name": "any", "match": {"any": [{"resources": {"kinds": ["*"]}}]},
              "validate": {"pattern": {"metadata": {"name": "?*"}}}}]
    prepared = engine.prepare(policy("kinds", rules))
    assert [r.name for r in prepared.candidates("validate", "Pod")] == ["pods", "any"]
    assert [r.name for r in prepared.candidates("validate", "ConfigMap")] == ["any"]
    only_first = dataclasses.replace(prepared, rules=prepared.rules[:1], by_kind={"validate": prepared.rules[:1]})
    assert [r.name for r in only_first.candidates("validate", "Pod")] == ["pods"]
