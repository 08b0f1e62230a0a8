"""Evaluating one validate rule (or one foreach level of it) against a resource.

Mirrors Kyverno's validator: deny conditions, then pattern/anyPattern, then foreach; foreach levels are
the same evaluation applied to each element, with the element as the pattern root when scoped.
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError
from verno.core.memo import IdentityMemo
from verno.core.results import RuleResponse, Status
from verno.core.variables import has_markers
from verno.plugins.validate import messages
from verno.core.failure_action import effective_action
from verno.core.pattern.fastpath import passes_check
from verno.core.pattern.matcher import MISSING, UNKNOWN, match_pattern

UNSUPPORTED = (("manifests", "manifests"),)


class Level:
    """One level of evaluation: the rule itself, or a foreach entry for one element."""

    __slots__ = ("deny", "pattern", "any_pattern", "foreach", "element")

    def __init__(self, spec: Any, element: Any = None):
        self.deny = spec.deny
        self.pattern = spec.pattern
        self.any_pattern = spec.any_pattern
        self.foreach = spec.foreach
        #: the pattern root when the element is in scope (a map element of a scoped foreach)
        self.element = element


def _plain_pattern_check(validation: Any) -> Any:
    """The compiled pass check of a rule that is just a variable-free ``pattern``, else None."""
    if validation.pattern is None or validation.deny is not None or validation.pod_security is not None \
            or validation.cel is not None:
        return None
    if any(getattr(validation, attr) is not None for attr, _ in UNSUPPORTED):
        return None
    if has_markers(validation.pattern):
        return None
    return passes_check(validation.pattern)


#: validation (a policy-owned object) -> the pass check that may answer it alone
_plain_check = IdentityMemo(_plain_pattern_check)


def validate_rule(rc: Any) -> RuleResponse | None:
    validation = rc.rule.rule.validate_
    check = _plain_check(validation)
    if check is not None:
        if check(rc.request.resource):
            if rc.trace is not None:
                rc.trace.add("pattern", result="pass")
            return rc.response(Status.PASS, messages.passed(rc.rule.name))  # what the full evaluation says
        # what evaluate() would run next, without trying the same check again: the walker's verdict
        response = _pattern(rc, rc.resource, validation.pattern, rc.rule.name, validation.message)
    else:
        if validation.cel is not None:
            from verno.plugins.validate.cel import validate_cel

            return validate_cel(rc)
        if validation.pod_security is not None:
            from verno.plugins.validate.podsecurity import validate_pod_security

            return validate_pod_security(rc)
        for attr, field in UNSUPPORTED:
            if getattr(validation, attr) is not None:
                return rc.response(Status.ERROR, f"validate.{field} is not supported yet: use pattern, "
                                                 "anyPattern, deny, foreach, podSecurity or cel")
        response = evaluate(rc, Level(validation))
        if response is None:
            return rc.response(Status.SKIP, "rule skipped")
    if response.status == Status.FAIL and _pre_existing_violation(rc, validation):
        return rc.response(Status.SKIP, "skipping modified resource as validation results have not changed: "
                                        "pre-existing violations are allowed")
    return response


def evaluate(rc: Any, level: Level) -> RuleResponse | None:
    rule_name = rc.rule.name
    message = rc.rule.rule.validate_.message
    if level.deny is not None:
        return _deny(rc, level, rule_name, message)
    if level.pattern is not None or level.any_pattern is not None:
        try:
            pattern = rc.substitute(level.pattern) if level.pattern is not None else None
            any_pattern = rc.substitute(level.any_pattern) if level.any_pattern is not None else None
        except VernoError as exc:
            return rc.response(Status.ERROR, f"variable substitution failed for rule {rule_name}: {exc}")
        root = level.element if level.element is not None else rc.resource
        if pattern is not None:
            return _pattern(rc, root, pattern, rule_name, message, stable=pattern is level.pattern)
        return _any_pattern(rc, root, any_pattern, rule_name, message, stable=any_pattern is level.any_pattern)
    if level.foreach:
        from verno.plugins.validate.foreach import validate_foreach

        return validate_foreach(rc, level.foreach)
    return rc.response(Status.PASS, message)


def _deny(rc: Any, level: Level, rule_name: str, message: str) -> RuleResponse:
    try:
        denied, cond_msg = rc.check_conditions(level.deny.conditions, "deny")
    except VernoError as exc:
        return rc.response(Status.ERROR, f"failed to check deny conditions: {exc}")
    if denied:
        return rc.response(Status.FAIL, messages.deny_failure(rc, rule_name, message, cond_msg))
    return rc.response(Status.PASS, messages.passed(rule_name))


def _traced(rc: Any, result: Any, which: str = "") -> None:
    """Record a pattern's verdict: where it failed, the pattern's value there and the resource's."""
    fields: dict[str, Any] = {"pattern": which} if which else {}
    if result.status == "pass":
        rc.trace.add("pattern", **fields, result="pass")
        return
    if result.expected is not UNKNOWN:
        fields["path"] = result.path or "/"
        fields["expected"] = result.expected
        if result.found is MISSING:
            fields["missing"] = True
        else:
            fields["found"] = result.found
    rc.trace.add("pattern", **fields, result=result.status, reason=result.message)


def _pattern(rc: Any, root: Any, pattern: Any, rule_name: str, message: str, *, stable: bool = False) -> RuleResponse:
    result = match_pattern(root, pattern, stable=stable)
    if rc.trace is not None:
        _traced(rc, result)
    if result.status == "pass":
        return rc.response(Status.PASS, messages.passed(rule_name))
    if result.status == "skip":
        return rc.response(Status.SKIP, result.message)
    text = messages.pattern_failure(rc, rule_name, message, result.path, result.message)
    if not result.path:
        return rc.response(Status.ERROR, text)
    return rc.response(Status.FAIL, text, path=result.path)


def _any_pattern(rc: Any, root: Any, patterns: Any, rule_name: str, message: str, *,
                 stable: bool = False) -> RuleResponse:
    if not isinstance(patterns, list):
        return rc.response(Status.ERROR, "failed to deserialize anyPattern, expected type array")
    failed: list[str] = []
    skipped: list[str] = []
    for index, pattern in enumerate(patterns):
        result = match_pattern(root, pattern, stable=stable)
        if rc.trace is not None:
            _traced(rc, result, f"anyPattern[{index}]")
        if result.status == "pass":
            return rc.response(Status.PASS, f"validation rule '{rule_name}' anyPattern[{index}] passed.")
        if result.status == "skip":
            skipped.append(f"rule {rule_name}[{index}] skipped: {result.message}")
        elif result.path:
            failed.append(f"rule {rule_name}[{index}] failed at path {result.path}")
        else:
            failed.append(f"rule {rule_name}[{index}] failed: {result.message}")
    if skipped and not failed:
        return rc.response(Status.SKIP, " ".join(skipped))
    if failed:
        return rc.response(Status.FAIL, messages.any_pattern_failure(rc, message, failed))
    return rc.response(Status.PASS, message)


def _pre_existing_violation(rc: Any, validation: Any) -> bool:
    """Enforce + UPDATE + allowExistingViolations: the old object failed the same way."""
    request = rc.request
    if request.operation != "UPDATE" or not request.old_resource or not validation.allow_existing_violations:
        return False
    if effective_action(rc.policy, rc.rule.rule, request.namespace, request.namespace_labels) != "Enforce":
        return False
    old = request.with_resource(request.old_resource)
    old.operation = "CREATE"
    rc.context.checkpoint()
    saved = rc.request
    try:
        rc.request = old
        rc.context.set("request", old.request_variable())
        prior = evaluate(rc, Level(validation))
    finally:
        rc.request = saved
        rc.context.restore()
    return prior is not None and prior.status == Status.FAIL
