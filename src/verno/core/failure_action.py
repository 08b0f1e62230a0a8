"""Which failure action (Audit or Enforce) applies to a validate rule for a resource."""
from __future__ import annotations

from typing import Any

from verno.core.wildcard import match as wildcard


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
    if override.namespace_selector is not None:
        from verno.core.selectors import selector_matches

        if not selector_matches(override.namespace_selector, labels):
            return False
    return bool(override.namespaces) or override.namespace_selector is not None
