"""The texts an admission response carries, in Kyverno's forms.

* a denial lists the blocking rules per policy (``pkg/webhooks/utils/block.go`` ``GetBlockedMessages``):
  ``resource Kind/namespace/name was blocked due to the following policies`` then a YAML map
  ``policy: {rule: message}`` (sorted keys, as Go's yaml.v2 marshals a map);
* a warning is ``policy <policy>.<rule>: <message>`` (``warning.go`` ``GetWarningMessages``).
"""
from __future__ import annotations

from typing import Any

import yaml


def resource_ref(resource: dict[str, Any]) -> str:
    """``Kind/namespace/name`` as Kyverno names the resource of a blocked request."""
    meta = resource.get("metadata") or {}
    return f"{resource.get('kind') or ''}/{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def blocked_message(resource: dict[str, Any], failures: dict[str, dict[str, str]]) -> str:
    """Kyverno's denial text for ``failures`` (policy name -> rule name -> message)."""
    body = yaml.safe_dump(failures, default_flow_style=False, sort_keys=True, allow_unicode=True,
                          width=1 << 30)
    return f"\n\nresource {resource_ref(resource)} was blocked due to the following policies \n\n{body}"


def warning(policy: str, rule: str, message: str) -> str:
    return f"policy {policy}.{rule}: {message}"


#: an explained denial (``verno serve --explain-denials``): rules explained, characters per rule and in all
EXPLAIN_RULES = 8
EXPLAIN_RULE_CHARS = 600
EXPLAIN_CHARS = 2400


def explanation(traces: list[tuple[str, str, list[dict[str, Any]]]]) -> str:
    """What follows Kyverno's denial text when denials are explained: one line per blocking rule
    (``policy/rule: <trace>``), bounded in rules and characters whatever the policies and the object."""
    from verno.core.trace import ELLIPSIS, compact

    lines = []
    for policy, rule, entries in traces[:EXPLAIN_RULES]:
        name = (f"{policy}/{rule}" if rule else policy).replace("\n", " ")
        lines.append(f"  {name}: {compact(entries, EXPLAIN_RULE_CHARS)}")
    if len(traces) > EXPLAIN_RULES:
        lines.append(f"  {ELLIPSIS} {len(traces) - EXPLAIN_RULES} more rule(s)")
    text = "\n".join(lines)
    if len(text) > EXPLAIN_CHARS:
        text = text[:EXPLAIN_CHARS - len(ELLIPSIS)] + ELLIPSIS
    return f"\n\nverno explain:\n{text}"


def not_evaluated(policies: list[str], resource: dict[str, Any], reason: str) -> str:
    """The denial when verno could not evaluate policies whose failurePolicy is Fail."""
    names = ", ".join(sorted(policies))
    return (f"verno could not evaluate policies {names} for resource {resource_ref(resource)} "
            f"(failurePolicy Fail): {reason}")


def not_evaluated_warning(policies: list[str], reason: str) -> str:
    """The warning when verno could not evaluate policies whose failurePolicy is Ignore."""
    names = ", ".join(sorted(policies))
    return f"verno could not evaluate policies {names}; allowed by failurePolicy Ignore: {reason}"
