"""From engine responses to an admission decision: allowed, message, warnings, patch."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from verno.core.engine import Engine
from verno.core.failure_action import failure_action
from verno.core.patch import make_patch
from verno.core.models.policy import Policy
from verno.core.prepare import PreparedPolicy
from verno.core.request import Request
from verno.core.results import PolicyResponse, Status
from verno.server import messages
from verno.server.policies import Snapshot, failure_policy


@dataclass
class Decision:
    allowed: bool = True
    message: str = ""
    code: int = 0
    warnings: list[str] = field(default_factory=list)
    patch: list[dict[str, Any]] = field(default_factory=list)
    #: (policy, rule, result) of every rule response, for metrics
    results: list[tuple[str, str, str]] = field(default_factory=list)


def _results(responses: Iterable[PolicyResponse]) -> list[tuple[str, str, str]]:
    return [(r.policy.key, rule.name, rule.status.value) for r in responses for rule in r.rules]


def _errors(response: PolicyResponse, rule: Any, blocked: dict[str, dict[str, str]], warnings: list[str]) -> None:
    """A rule that could not be evaluated: the policy's failurePolicy decides."""
    policy = response.policy
    if failure_policy(policy) == "Fail":
        blocked.setdefault(policy.name, {})[rule.name] = \
            f"verno could not evaluate this rule (failurePolicy Fail): {rule.message}"
    else:
        warnings.append(messages.warning(policy.name, rule.name,
                                         f"verno could not evaluate this rule; allowed by failurePolicy "
                                         f"Ignore: {rule.message}"))


def _kind_verdicts(response: PolicyResponse, denials: list[str], warnings: list[str],
                   blocking: list[tuple[PolicyResponse, Any]] | None = None) -> None:
    """A policy of another kind (ValidatingPolicy, VAP): its ``fail`` and ``error`` results deny under
    ``Deny`` and warn under ``Warn``; ``Audit`` only reports. A rule's ``validationActions`` property (a
    VAP binding's) overrides the policy's. The words are the kind's (``KindPolicy.admission_message``) or
    Kyverno's ``Policy <name> failed: <msg>`` / ``error: <msg>``. failurePolicy does not soften a
    validation's runtime error."""
    policy = response.policy
    worded = getattr(policy, "admission_message", None)
    for rule in response.rules:
        if rule.status not in (Status.FAIL, Status.ERROR):
            continue
        listed = rule.properties.get("validationActions") if rule.properties else None
        actions = set(listed.split(",")) if listed else policy.validation_actions
        for action, out in (("Deny", denials), ("Warn", warnings)):
            if action not in actions:
                continue
            if action == "Deny" and blocking is not None:
                blocking.append((response, rule))
            if worded is not None:
                out.append(worded(rule, action))
            else:
                how = "failed" if rule.status == Status.FAIL else "error"
                out.append(f"Policy {policy.name} {how}: {rule.message}")


def _kind_mutation_errors(response: PolicyResponse, denials: list[str], warnings: list[str]) -> None:
    """A mutating policy of another kind that could not mutate the object (an ``error`` result): the
    request is denied under its failurePolicy ``Fail`` (``Policy <name> error: <message>``, Kyverno's
    words) and allowed with a warning under ``Ignore``."""
    policy = response.policy
    for rule in response.rules:
        if rule.status != Status.ERROR:
            continue
        if policy.failure_policy == "Ignore":
            warnings.append(f"Policy {policy.name} error (allowed by failurePolicy Ignore): {rule.message}")
        else:
            denials.append(f"Policy {policy.name} error: {rule.message}")


def validate_decision(snapshot: Snapshot, request: Request, responses: list[PolicyResponse],
                      blocking: list[tuple[PolicyResponse, Any]] | None = None) -> Decision:
    """Enforce failures (and errors under failurePolicy Fail) block; Audit failures warn on emitWarning.
    Policies of other kinds decide by their validationActions. ``blocking``: receives each (response, rule)
    that denies the request."""
    blocked: dict[str, dict[str, str]] = {}
    warnings: list[str] = []
    denials: list[str] = []
    for response in responses:
        policy = response.policy
        if type(policy) is not Policy:  # a policy of another kind (a Protocol isinstance check is slow)
            _kind_verdicts(response, denials, warnings, blocking)
            continue
        for rule in response.rules:
            if rule.status in (Status.PASS, Status.SKIP):
                continue
            if rule.status == Status.ERROR:
                _errors(response, rule, blocked, warnings)
                if blocking is not None and failure_policy(policy) == "Fail":
                    blocking.append((response, rule))
                continue
            model = snapshot.rule(policy, rule.name)
            action = "Audit"
            if rule.status == Status.FAIL and model is not None:
                action = failure_action(policy, model, request.namespace, request.namespace_labels)
            if action == "Enforce":
                blocked.setdefault(policy.name, {})[rule.name] = rule.message
                if blocking is not None:
                    blocking.append((response, rule))
            elif policy.spec.emit_warning:
                warnings.append(messages.warning(policy.name, rule.name, rule.message))
    decision = Decision(warnings=warnings, results=_results(responses))
    if blocked or denials:
        subject = request.resource or request.old_resource or {}
        decision.allowed, decision.code = False, 400
        parts = ([messages.blocked_message(subject, blocked)] if blocked else []) + denials
        decision.message = "; ".join(parts)
    return decision


def final_resource(engine: Engine, snapshot: Snapshot, request: Request,
                   responses: list[PolicyResponse]) -> dict[str, Any]:
    """The object after every mutation and digest pin, completed by the rule-kind plugins through the
    ``verno_admitted_object`` hook (verifyImages records every image's verdict); ``request.resource``
    itself when nothing changed it."""
    chained = _chained_resource(snapshot, responses)
    return engine.admitted_object(request, responses, chained if chained is not None else request.resource)


def _chained_resource(snapshot: Snapshot, responses: list[PolicyResponse]) -> dict[str, Any] | None:
    """The object after every mutation and digest pin, in the engine's order (mutate, then verifyImages;
    policies in order within a phase). mutateExisting targets are not the admitted object."""
    for rule_type in ("ImageVerify", "Mutation"):
        for response in reversed(responses):
            for rule in reversed(response.rules):
                if rule.rule_type != rule_type or rule.status != Status.PASS or rule.patched_resource is None:
                    continue
                model = snapshot.rule(response.policy, rule.name)
                if model is not None and model.mutate is not None and model.mutate.targets:
                    continue
                return rule.patched_resource
    return None


def mutate_decision(engine: Engine, snapshot: Snapshot, request: Request,
                    responses: list[PolicyResponse]) -> Decision:
    """The JSON Patch from the original object to the mutated (and digest-pinned) one.

    Errors go by failurePolicy; a failed image verification blocks under Enforce (Kyverno's
    imageverification handler in the mutating webhook) and is allowed, with a warning when the policy
    sets emitWarning, under Audit.
    """
    blocked: dict[str, dict[str, str]] = {}
    warnings: list[str] = []
    denials: list[str] = []
    for response in responses:
        if type(response.policy) is not Policy:  # a mutating policy of another kind (MutatingPolicy, MAP)
            _kind_mutation_errors(response, denials, warnings)
            continue
        for rule in response.rules:
            if rule.status == Status.FAIL and rule.rule_type == "ImageVerify":
                model = snapshot.rule(response.policy, rule.name)
                if model is None or failure_action(response.policy, model, request.namespace,
                                                    request.namespace_labels) == "Enforce":
                    blocked.setdefault(response.policy.name, {})[rule.name] = rule.message
                elif response.policy.spec.emit_warning:
                    warnings.append(messages.warning(response.policy.name, rule.name, rule.message))
            elif rule.status in (Status.ERROR, Status.FAIL):
                _errors(response, rule, blocked, warnings)
            elif rule.status == Status.PASS and response.policy.spec.emit_warning:
                warnings.append(messages.warning(response.policy.name, rule.name, rule.message))
    decision = Decision(warnings=warnings, results=_results(responses))
    if blocked or denials:
        subject = request.resource or request.old_resource or {}
        decision.allowed, decision.code = False, 400
        parts = ([messages.blocked_message(subject, blocked)] if blocked else []) + denials
        decision.message = "; ".join(parts)
        return decision
    if responses and request.operation in ("CREATE", "UPDATE") and request.resource:
        final = final_resource(engine, snapshot, request, responses)
        if final is not request.resource:
            decision.patch = make_patch(request.resource, final)
    return decision


def matching_policies(policies: Iterable[PreparedPolicy], request: Request) -> list[PreparedPolicy]:
    """Policies with at least one rule matching the request (the ones a failure concerns)."""
    out = []
    for prepared in policies:
        ns = prepared.policy.namespace
        if ns and ns != request.namespace:
            continue
        if any(rule.matcher.matches(request) for rule in prepared.rules):
            out.append(prepared)
    return out


def failed_decision(policies: list[PreparedPolicy], request: Request, reason: str,
                    kinds: Iterable[Any] = ()) -> Decision:
    """No engine answer (timeout or internal error): Fail policies deny, Ignore policies warn.

    ``kinds`` are the route's policies of other kinds: each is concerned (their constraints are evaluated
    only with the policy), so each answers by its own failurePolicy.
    """
    kinds = list(kinds)
    fail = [p.policy.key for p in policies if failure_policy(p.policy) == "Fail"]
    ignore = [p.policy.key for p in policies if failure_policy(p.policy) == "Ignore"]
    fail += [k.key for k in kinds if k.failure_policy != "Ignore"]
    ignore += [k.key for k in kinds if k.failure_policy == "Ignore"]
    decision = Decision()
    if ignore:
        decision.warnings.append(messages.not_evaluated_warning(ignore, reason))
    if fail:
        subject = request.resource or request.old_resource or {}
        decision.allowed, decision.code = False, 500
        decision.message = messages.not_evaluated(fail, subject, reason)
    return decision
