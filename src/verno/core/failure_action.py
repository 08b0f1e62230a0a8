"""What a failing rule means for admission: ``Enforce`` (the request is denied) or ``Audit`` (it is
admitted, the failure reported).

A policy-level rule of the core, not of any rule kind: the webhook's decisions, ``verno apply``'s and
``verno test``'s results and the PolicyReports all read it from here.

* ``failure_action``: a verifyImages entry's own ``failureAction`` (or ``validationFailureAction``) first,
  then ``effective_action``;
* ``effective_action``: the validate rule's ``failureAction``, else the policy's
  ``validationFailureAction``; then the first ``failureActionOverrides`` entry (the rule's, else the
  policy's) whose namespaces or namespaceSelector select the resource's namespace.
"""
from __future__ import annotations

from typing import Any

from verno.core.selectors import selector_matches
from verno.core.wildcard import match as wildcard


def failure_action(policy: Any, rule: Any, namespace: str, namespace_labels: dict[str, str]) -> str:
    """``Enforce`` or ``Audit`` for a failing rule of any kind."""
    for entry in rule.verify_images or []:
        action = entry.get("failureAction") or entry.get("validationFailureAction")
        if action:
            return "Enforce" if str(action).lower() == "enforce" else "Audit"
    return effective_action(policy, rule, namespace, namespace_labels)


def effective_action(policy: Any, rule: Any, namespace: str, namespace_labels: dict[str, str]) -> str:
    """``Enforce`` or ``Audit``: the rule's ``failureAction`` or the policy's, then overrides."""
    validation = rule.validate_
    action = (validation.failure_action if validation else None) or policy.spec.validation_failure_action
    overrides = (validation.failure_action_overrides if validation else None) or \
        policy.spec.validation_failure_action_overrides
    for override in overrides or []:
        if _override_applies(override, namespace, namespace_labels):
            action = override.action
            break
    return "Enforce" if str(action).lower() == "enforce" else "Audit"


def _override_applies(override: Any, namespace: str, labels: dict[str, str]) -> bool:
    if override.namespaces and not any(wildcard(p, namespace) for p in override.namespaces):
        return False
    if override.namespace_selector is not None and not selector_matches(override.namespace_selector, labels):
        return False
    return bool(override.namespaces) or override.namespace_selector is not None
