from __future__ import annotations

from typing import Any

import yaml

from verno.core.autogen import can_autogen, expand_rules
from verno.core.models.policy import Policy


def policy(rules: list[dict[str, Any]], annotations: dict[str, str] | None = None) -> Policy:
    meta: dict[str, Any] = {"name": "p"}
    if annotations is not None:
        meta["annotations"] = annotations
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": meta,
                                  "spec": {"rules": rules}})


def dump(rule) -> dict[str, Any]:
    return rule.model_dump(by_alias=True, exclude_unset=True)


LABEL_RULE = yaml.safe_load("""
name: check-for-labels
match:
  any:
  - resources:
      kinds: [Pod]
validate:
  message: "label 'app.kubernetes.io/name' is required"
  pattern:
    metadata:
      labels:
        app.kubernetes.io/name: "?*"
""")

CONTROLLERS = ["DaemonSet", "Deployment", "Job", "ReplicaSet", "ReplicationController", "StatefulSet"]


def test_doc_example_pattern():
    p = policy([LABEL_RULE])
    out = expand_rules(p)
    assert [(r.name, base) for r, base in out] == [
        ("check-for-labels", "check-for-labels"),
        ("autogen-check-for-labels", "check-for-labels"),
        ("autogen-cronjob-check-for-labels", "check-for-labels"),
    ]
    ctrl, cron = dump(out[1][0]), dump(out[2][0])
    assert ctrl["match"] == {"any": [{"resources": {"kinds": CONTROLLERS}}]}
    assert ctrl["validate"]["pattern"] == {"spec": {"template": LABEL_RULE["validate"]["pattern"]}}
    assert ctrl["validate"]["message"] == LABEL_RULE["validate"]["message"]
    assert cron["match"] == {"any": [{"resources": {"kinds": ["CronJob"]}}]}
    assert cron["validate"]["pattern"] == {
        "spec": {"jobTemplate": {"spec": {"template": LABEL_RULE["validate"]["pattern"]}}}}
    # originals untouched
    assert dump(p.spec.rules[0]) == LABEL_RULE


def test_variables_rewritten_in_deny_context_preconditions():
    rule = {
        "name": "deny-host",
        "match": {"resources": {"kinds": ["Pod"]}},
        "context": [{"name": "n", "variable": {"jmesPath": "request.object.metadata.name"}}],
        "preconditions": {"all": [{"key": "{{ request.oldObject.spec.hostNetwork || false }}",
                                   "operator": "Equals", "value": False}]},
        "validate": {"deny": {"conditions": {"any": [
            {"key": "{{ request.object.spec.hostNetwork }}", "operator": "Equals", "value": True}]}}},
    }
    out = {r.name: dump(r) for r, _ in expand_rules(policy([rule]))}
    ctrl, cron = out["autogen-deny-host"], out["autogen-cronjob-deny-host"]
    assert ctrl["match"]["resources"]["kinds"] == CONTROLLERS
    assert ctrl["context"][0]["variable"]["jmesPath"] == "request.object.spec.template.metadata.name"
    assert ctrl["preconditions"]["all"][0]["key"] == "{{ request.oldObject.spec.template.spec.hostNetwork || false }}"
    assert ctrl["validate"]["deny"]["conditions"]["any"][0]["key"] == "{{ request.object.spec.template.spec.hostNetwork }}"
    assert cron["validate"]["deny"]["conditions"]["any"][0]["key"] == \
        "{{ request.object.spec.jobTemplate.spec.template.spec.hostNetwork }}"


def test_foreach_any_pattern_and_mutate():
    foreach_rule = {"name": "fe", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "validate": {"foreach": [{"list": "request.object.spec.containers",
                                              "pattern": {"image": "!*:latest"}}]}}
    any_rule = {"name": "ap", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "validate": {"anyPattern": [{"spec": {"a": 1}}, {"spec": {"b": 2}}]}}
    mutate_rule = {"name": "mu", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                   "mutate": {"patchStrategicMerge": {"metadata": {"labels": {"x": "y"}}}}}
    mfe_rule = {"name": "mfe", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "mutate": {"foreach": [{"list": "request.object.spec.containers",
                                        "patchStrategicMerge": {"spec": {"containers": [{"name": "{{element.name}}"}]}}}]}}
    out = {r.name: dump(r) for r, _ in expand_rules(policy([foreach_rule, any_rule, mutate_rule, mfe_rule]))}
    assert out["autogen-fe"]["validate"]["foreach"][0]["list"] == "request.object.spec.template.spec.containers"
    assert out["autogen-fe"]["validate"]["foreach"][0]["pattern"] == {"image": "!*:latest"}
    assert out["autogen-ap"]["validate"]["anyPattern"] == [
        {"spec": {"template": {"spec": {"a": 1}}}}, {"spec": {"template": {"spec": {"b": 2}}}}]
    assert out["autogen-mu"]["mutate"]["patchStrategicMerge"] == {
        "spec": {"template": {"metadata": {"labels": {"x": "y"}}}}}
    assert out["autogen-cronjob-mu"]["mutate"]["patchStrategicMerge"] == {
        "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"x": "y"}}}}}}}
    fe = out["autogen-mfe"]["mutate"]["foreach"][0]
    assert fe["list"] == "request.object.spec.template.spec.containers"
    assert fe["patchStrategicMerge"]["spec"]["template"]["spec"]["containers"][0]["name"] == "{{element.name}}"


def test_order_originals_then_generated():
    r2 = dict(LABEL_RULE, name="second")
    names = [r.name for r, _ in expand_rules(policy([LABEL_RULE, r2]))]
    assert names == ["check-for-labels", "second", "autogen-check-for-labels", "autogen-cronjob-check-for-labels",
                     "autogen-second", "autogen-cronjob-second"]


def test_annotation_controls():
    names = lambda ann: [r.name for r, _ in expand_rules(policy([LABEL_RULE], {
        "pod-policies.kyverno.io/autogen-controllers": ann}))]
    assert names("none") == ["check-for-labels"]
    assert names("Deployment,StatefulSet") == ["check-for-labels", "autogen-check-for-labels"]
    out = expand_rules(policy([LABEL_RULE], {"pod-policies.kyverno.io/autogen-controllers": "StatefulSet,Deployment"}))
    assert dump(out[1][0])["match"]["any"][0]["resources"]["kinds"] == ["Deployment", "StatefulSet"]
    assert names("CronJob") == ["check-for-labels", "autogen-cronjob-check-for-labels"]


def test_conditions_that_disable_autogen():
    base = lambda **resources: {"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"], **resources}}]},
                                "validate": {"pattern": {"metadata": {}}}}
    assert can_autogen(policy([base()]))
    assert not can_autogen(policy([base(names=["a"])]))
    assert not can_autogen(policy([base(name="a")]))
    assert not can_autogen(policy([base(selector={"matchLabels": {"a": "b"}})]))
    assert not can_autogen(policy([base(annotations={"a": "b"})]))
    assert not can_autogen(policy([base(kinds=["Pod", "Service"])]))
    assert not can_autogen(policy([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Service"]}}]},
                                    "validate": {"pattern": {"metadata": {}}}}]))
    gen = {"name": "g", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
           "generate": {"kind": "ConfigMap", "name": "c", "namespace": "n", "data": {}}}
    assert not can_autogen(policy([base(), gen]))
    patch = {"name": "j", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "mutate": {"patchesJson6902": "- op: add\n  path: /x\n  value: 1"}}
    assert not can_autogen(policy([patch]))
    assert [r.name for r, _ in expand_rules(policy([base(names=["a"])]))] == ["r"]


def test_exclude_adapted_and_non_pod_exclude_blocks():
    rule = dict(LABEL_RULE, exclude={"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["kube-system"]}}]})
    out = {r.name: dump(r) for r, _ in expand_rules(policy([rule]))}
    assert out["autogen-check-for-labels"]["exclude"]["any"][0]["resources"] == {
        "kinds": CONTROLLERS, "namespaces": ["kube-system"]}
    assert out["autogen-cronjob-check-for-labels"]["exclude"]["any"][0]["resources"]["kinds"] == ["CronJob"]
    rule = dict(LABEL_RULE, exclude={"any": [{"resources": {"kinds": ["Deployment"]}}]})
    assert [r.name for r, _ in expand_rules(policy([rule]))] == ["check-for-labels"]


def test_message_references_shifted():
    rule = dict(LABEL_RULE, validate={"message": "bad value $(./pattern/metadata/name)",
                                      "pattern": {"metadata": {"name": "x"}}})
    out = {r.name: dump(r) for r, _ in expand_rules(policy([rule]))}
    assert out["autogen-check-for-labels"]["validate"]["message"] == \
        "bad value $(./pattern/spec/template/metadata/name)"


def test_long_names_truncated():
    rule = dict(LABEL_RULE, name="x" * 60)
    names = [r.name for r, _ in expand_rules(policy([rule]))]
    assert all(len(n) <= 63 for n in names)
    assert names[2] == ("autogen-cronjob-" + "x" * 60)[:63]


def test_names_rewritten_with_the_rule_keep_their_length():
    """Kyverno rewrites ``request.object.metadata`` everywhere in the rule, its name included, and keeps the
    longer name (before: a ValidationError escaped as an internal error)."""
    name = "n-{{request.object.metadata.name}}-" + "y" * 25
    assert len(name) == 60
    rule = dict(LABEL_RULE, name=name)
    names = [r.name for r, _ in expand_rules(policy([rule]))]
    assert names[0] == name
    # the name is cut to 63 characters first, then rewritten with the rule
    assert names[1] == "autogen-n-{{request.object.spec.template.metadata.name}}-" + "y" * 20
    assert len(names[1]) > 63
    assert names[2].startswith("autogen-cronjob-n-{{request.object.spec.jobTemplate.spec.template.metadata")
