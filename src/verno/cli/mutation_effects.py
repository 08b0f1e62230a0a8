"""What the mutations in one resource's policy responses did: the resource they leave (``verno fix``) and
each mutating rule's own effect (``verno diff``).

The engine runs every policy's mutate rules, then its verifyImages rules (which pin digests), each on the
resource the previous one left; a response's ``patched_resource`` is the resource after its policy's last
such rule. A mutateExisting rule patches another resource (its target), never the one evaluated.
"""
from __future__ import annotations

import json
from typing import Any

from verno.cli.mutated_output import is_target_rule
from verno.cli.resource_changes import changes
from verno.core.results import PolicyResponse, RuleResponse, Status

MUTATING = ("Mutation", "ImageVerify")


def _patches(rule: RuleResponse) -> bool:
    return rule.rule_type in MUTATING and rule.status == Status.PASS and rule.patched_resource is not None


def chains(response: PolicyResponse, rule: RuleResponse) -> bool:
    """Whether ``rule`` changed the evaluated resource itself (not a mutateExisting target)."""
    return _patches(rule) and not is_target_rule(response, rule)


def targets(response: PolicyResponse) -> list[tuple[str, dict[str, Any]]]:
    """``(rule, patched target)`` of the response's mutateExisting rules."""
    return [(rule.name, rule.patched_resource) for rule in response.rules
            if _patches(rule) and is_target_rule(response, rule) and rule.patched_resource is not None]


def final_resource(responses: list[PolicyResponse]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(resource as evaluated, resource after every mutation)``, or None when nothing mutated it."""
    last: dict[str, PolicyResponse] = {}
    for response in responses:
        for rule in response.rules:
            if chains(response, rule):
                last[rule.rule_type] = response
    response = last.get("ImageVerify") or last.get("Mutation")
    if response is None or response.patched_resource is None:
        return None
    return response.resource, response.patched_resource


def rule_effects(responses: list[PolicyResponse]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Each mutating rule's own effect by ``(policy, rule)``: the edits from the resource it was given to the
    one it returned (as dicts), or for a mutateExisting rule the patched target itself."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    current: dict[str, Any] | None = None
    ordered = [(phase, response) for phase in MUTATING for response in responses]
    for phase, response in ordered:
        for rule in response.rules:
            if rule.rule_type != phase or not _patches(rule):
                continue
            key = (response.policy.key, rule.name)
            if is_target_rule(response, rule):
                out[key] = [{"op": "target", "value": rule.patched_resource}]
                continue
            before = current if current is not None else response.resource
            out[key] = [c.as_dict() for c in changes(before, rule.patched_resource)]
            current = rule.patched_resource
    return out


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
