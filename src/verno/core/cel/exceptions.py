"""``policies.kyverno.io`` PolicyExceptions applied to a CEL policy (Kyverno's vpol, mpol and gpol engines).

An exception names policies by ``policyRefs[]{name, kind}`` (the kind exactly: a
``NamespacedValidatingPolicy`` is not a ``ValidatingPolicy``). Its ``matchConditions`` are compiled in the
policy's environment and evaluated before the policy's own match conditions, with ``object``,
``oldObject``, ``request`` and ``namespaceObject`` (no ``variables``). An exception matches when none of its
conditions is false and none errored.

* A matching exception without ``images`` and ``allowedValues`` exempts the resource: the policy is not
  evaluated, the result is ``skip`` (``pass`` when the chosen exception says ``reportResult: pass``; with
  several, the one with the highest ``polex.kyverno.io/priority`` label chooses, the first on a tie).
* A matching exception with ``images`` or ``allowedValues`` is partial: evaluation goes on, and the policy
  reads their union as ``exceptions.allowedImages`` / ``exceptions.allowedValues``.
* An exception condition that errors is an evaluation error, unless a full exemption was found.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel.errors import CELError
from verno.core.cel.conditions import evaluate_conditions
from verno.core.cel.program import Activation
from verno.core.errors import VernoError
from verno.core.models.cel_exception import CELPolicyException
from verno.core.results import RuleResponse, Status

__all__ = ["COMPANION", "ExceptionOutcome", "exception_rule", "exceptions_for", "match_exceptions"]

#: the companion key (``group/Kind``) CEL PolicyExceptions are collected under
COMPANION = "policies.kyverno.io/PolicyException"


@dataclass
class ExceptionOutcome:
    """What the exceptions of one policy say about one resource."""

    #: full exemptions that matched, in order
    exempt: list[CELPolicyException] = field(default_factory=list)
    #: partial exceptions that matched
    partial: list[CELPolicyException] = field(default_factory=list)
    #: the first condition error (when no full exemption matched, it is the policy's error)
    error: CELError | None = None

    @property
    def report_result(self) -> str:
        chosen = self.exempt[0]
        for exc in self.exempt[1:]:
            if (exc.priority or 0) > (chosen.priority or 0):
                chosen = exc
        return chosen.spec.report_result

    def variable(self) -> dict[str, list[str]]:
        """The ``exceptions`` variable: the union of the partial exceptions' images and values."""
        images: list[str] = []
        values: list[str] = []
        for exc in self.partial:
            images.extend(i for i in exc.spec.images if i not in images)
            values.extend(v for v in exc.spec.allowed_values if v not in values)
        return {"allowedImages": images, "allowedValues": values}


def exception_key(exc: CELPolicyException) -> str:
    """``<ns>/<name>``, or ``<name>`` without a namespace (Kubernetes' MetaNamespaceKeyFunc)."""
    return f"{exc.namespace}/{exc.name}" if exc.namespace else exc.name


def exception_rule(outcome: ExceptionOutcome, rule_type: str) -> RuleResponse:
    """The rule response of an exempted resource (rule ``exception``), with Kyverno's message."""
    keys = ", ".join(exception_key(e) for e in outcome.exempt)
    if outcome.report_result == "pass":
        return RuleResponse("exception", rule_type, Status.PASS,
                            f"rule is passed due to policy exception: {keys}", exception=keys,
                            properties={"exceptions": keys})
    return RuleResponse("exception", rule_type, Status.SKIP, f"rule is skipped due to policy exception: {keys}",
                        exception=keys, properties={"exceptions": keys})


@dataclass
class _Compiled:
    exception: CELPolicyException
    conditions: list[Any]  # Programs
    error: CELError | None = None


def _parsed(docs: Sequence[Mapping[str, Any]], memo: dict[Any, Any]) -> list[CELPolicyException]:
    parsed = memo.get("cel-exceptions")
    if parsed is None or parsed[0] is not docs:
        try:
            exceptions = [CELPolicyException.model_validate(d) for d in docs]
        except ValueError as exc:  # validated with its file at load; here only for documents built in code
            raise VernoError(f"invalid policies.kyverno.io PolicyException: {exc}") from None
        parsed = (docs, exceptions)
        memo["cel-exceptions"] = parsed
    return parsed[1]


def exceptions_for(kind: str, name: str, companions: Mapping[str, Sequence[Mapping[str, Any]]], env: Any,
                   memo: dict[Any, Any], variables: Any = None) -> list[_Compiled]:
    """The exceptions naming policy ``kind``/``name``, with their conditions compiled in ``env`` (once per
    run: ``memo`` is the run's cache). ``variables``: the policy's VariableSet, so that a condition reading
    ``variables.x`` compiles and fails at runtime, as in Kyverno."""
    docs = companions.get(COMPANION) or []
    if not docs:
        return []
    key = ("cel-exceptions-of", kind, name, id(env), id(variables))
    cached = memo.get(key)
    if cached is not None and cached[0] is docs:
        return cached[1]
    out: list[_Compiled] = []
    for exc in _parsed(docs, memo):
        if not any(ref.kind == kind and ref.name == name for ref in exc.spec.policy_refs):
            continue
        programs, error = [], None
        for cond in exc.spec.match_conditions:
            try:
                programs.append(env.compile(cond.expression, expect=("bool",), variables=variables))
            except CELError as err:
                error = err
                break
        out.append(_Compiled(exc, programs, error))
    memo[key] = (docs, out)
    return out


def match_exceptions(compiled: Sequence[_Compiled], inputs: Mapping[str, Any]) -> ExceptionOutcome:
    """Evaluate the exceptions' conditions against one evaluation's ``inputs``."""
    outcome = ExceptionOutcome()
    if not compiled:
        return outcome
    activation = Activation(inputs)
    for item in compiled:
        matched, error = _conditions(item, activation)
        if error is not None:
            outcome.error = outcome.error or error
            continue
        if not matched:
            continue
        spec = item.exception.spec
        (outcome.partial if spec.images or spec.allowed_values else outcome.exempt).append(item.exception)
    if outcome.exempt:
        outcome.error = None
    return outcome


def _conditions(item: _Compiled, activation: Activation) -> tuple[bool, CELError | None]:
    if item.error is not None:
        return False, item.error
    return evaluate_conditions(item.conditions, activation)
