"""What a failing rule means for admission (core/failure_action.py): Enforce or Audit, whatever the rule kind."""
from __future__ import annotations

import pytest

from verno.core.failure_action import effective_action, failure_action
from verno.core.models.policy import Policy

MATCH = {"any": [{"resources": {"kinds": ["Pod"]}}]}
IMAGES = {"imageReferences": ["ghcr.io/*"], "attestors": [{"entries": [{"keys": {"publicKeys": "k"}}]}]}


def policy(rule: dict, **spec) -> Policy:
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
                                  "spec": {"rules": [{"name": "r", "match": MATCH, **rule}], **spec}})


def validate_rule(**validate) -> dict:
    return {"validate": {"pattern": {"metadata": {"name": "?*"}}, **validate}}


def action(p: Policy, namespace: str = "team", labels: dict[str, str] | None = None) -> str:
    return failure_action(p, p.spec.rules[0], namespace, labels or {})


def test_policy_action_applies_when_the_rule_sets_none():
    assert action(policy(validate_rule(), validationFailureAction="Enforce")) == "Enforce"
    assert action(policy(validate_rule(), validationFailureAction="enforce")) == "Enforce"
    assert action(policy(validate_rule())) == "Audit"


def test_rule_failure_action_beats_the_policy():
    assert action(policy(validate_rule(failureAction="Audit"), validationFailureAction="Enforce")) == "Audit"
    assert action(policy(validate_rule(failureAction="Enforce"), validationFailureAction="Audit")) == "Enforce"


@pytest.mark.parametrize("namespace,labels,expected", [
    ("dev-1", {}, "Audit"),  # namespaces (wildcard) select it
    ("prod", {"tier": "test"}, "Audit"),  # the namespaceSelector selects it
    ("prod", {"tier": "prod"}, "Enforce"),  # neither: the action stands
])
def test_overrides_by_namespace_and_selector(namespace, labels, expected):
    p = policy(validate_rule(), validationFailureAction="Enforce", validationFailureActionOverrides=[
        {"action": "Audit", "namespaces": ["dev-*"]},
        {"action": "Audit", "namespaceSelector": {"matchLabels": {"tier": "test"}}},
    ])
    assert action(p, namespace, labels) == expected


def test_rule_overrides_replace_the_policy_overrides():
    p = policy(validate_rule(failureActionOverrides=[{"action": "Enforce", "namespaces": ["prod"]}]),
               validationFailureAction="Audit",
               validationFailureActionOverrides=[{"action": "Audit", "namespaces": ["*"]}])
    assert action(p, "prod") == "Enforce"
    assert action(p, "dev") == "Audit"


def test_an_override_naming_nothing_applies_nowhere():
    p = policy(validate_rule(), validationFailureAction="Enforce",
               validationFailureActionOverrides=[{"action": "Audit"}])
    assert action(p, "any") == "Enforce"


@pytest.mark.parametrize("entry,policy_action,expected", [
    ({"failureAction": "Enforce"}, "Audit", "Enforce"),
    ({"failureAction": "Audit"}, "Enforce", "Audit"),
    ({"validationFailureAction": "enforce"}, "Audit", "Enforce"),  # the deprecated spelling
    ({}, "Enforce", "Enforce"),  # no action on the entry: the policy's
])
def test_a_verify_images_entry_decides_for_its_rule(entry, policy_action, expected):
    p = policy({"verifyImages": [{**IMAGES, **entry}]}, validationFailureAction=policy_action)
    assert action(p) == expected


def test_effective_action_ignores_verify_images_entries():
    """`effective_action` (what the reports' Audit check reads) looks at the validate rule and the policy only."""
    p = policy({"verifyImages": [{**IMAGES, "failureAction": "Enforce"}]}, validationFailureAction="Audit")
    assert effective_action(p, p.spec.rules[0], "team", {}) == "Audit"
