"""The admission side of mutateExisting: which rules with ``mutate.targets`` an admitted request concerns.

As Kyverno's validating webhook does, each mutateExisting rule the request's object matches becomes one
``requestType: mutate`` UpdateRequest (the rule, the trigger, the whole AdmissionRequest); on DELETE only
rules that list DELETE in their ``operations`` are concerned (the deleted object is then the trigger). The
trigger itself is never mutated. Context entries, preconditions and PolicyExceptions are evaluated by
``verno controller`` when it processes the record (Kyverno evaluates them here too; a record whose
preconditions do not hold there completes without writing anything). Requests of the controller's own user
concern only rules with ``skipBackgroundRequests: false``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from verno.core.prepare import PreparedPolicy, PreparedRule
from verno.core.request import Request
from verno.core.updaterequest import TriggerRef


class MutateWork(NamedTuple):
    policy: str
    rule: str
    trigger: TriggerRef


def mutate_existing_rules(prepared: PreparedPolicy) -> list[PreparedRule]:
    return [r for r in prepared.rules
            if r.kind == "mutate" and r.rule.mutate is not None and bool(r.rule.mutate.targets)]


def _operations(rule: Any) -> set[str]:
    block = rule.match
    ops: set[str] = set()
    for f in [*(block.any or []), *(block.all or []), block]:
        ops.update(f.resources.operations or ())
    return ops


def mutate_work(policies: tuple[PreparedPolicy, ...] | list[PreparedPolicy], request: Request,
                background_user: str = "") -> list[MutateWork]:
    """The mutate records one admission request makes, one per (policy, rule)."""
    out: list[MutateWork] = []
    if request.dry_run or request.operation not in ("CREATE", "UPDATE", "DELETE"):
        return out
    from_controller = bool(background_user) and (request.user_info or {}).get("username") == background_user
    for prepared in policies:
        policy = prepared.policy
        if not policy.spec.admission or policy.namespace and policy.namespace != request.namespace:
            continue
        for rule in mutate_existing_rules(prepared):
            if from_controller and rule.rule.skip_background_requests:
                continue
            if request.operation == "DELETE" and "DELETE" not in _operations(rule.rule):
                continue
            if rule.matcher.matches(request):
                subject = request.resource if request.operation != "DELETE" else request.old_resource
                out.append(MutateWork(policy.key, rule.name, TriggerRef.of(subject or request.resource or {})))
    return out
