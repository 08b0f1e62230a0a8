"""A loaded ValidatingPolicy: every expression compiled once, evaluated as Kyverno's vpol engine does.

Evaluation of one resource (``pkg/cel/policies/vpol/engine``):

1. Kubernetes mode: ``matchConstraints`` (the policy's, or an autogen variant's for Pod controllers) must
   select the request; a Namespaced policy sees only requests in its namespace. JSON mode matches nothing:
   ``object`` is the payload (or the resource) and ``request``/``oldObject``/``namespaceObject`` are null.
2. PolicyExceptions (:mod:`verno.core.cel.exceptions`) before match conditions.
3. ``matchConditions`` in order (without ``variables``): a false one skips; an error is a skip under
   ``failurePolicy: Ignore``, else the policy's error.
4. ``validations`` in order with lazy ``variables``; the first non-true one is the result (``fail`` with its
   message, or ``error``), with property ``cel.validationIndex``.
5. ``auditAnnotations`` (Kubernetes mode) become properties on pass and on fail; an error is the result.

Envoy and HTTP modes (kyverno-authz) read only Envoy or HTTP payloads (:mod:`.authz`); the other modes
ignore those payloads.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel import Activation, CELError, VariableSet
from verno.core.cel.admission import admission_inputs
from verno.core.cel.cost import Measured, noted_measures
from verno.core.cel.exceptions import exception_rule, exceptions_for, match_exceptions
from verno.core.cel.program import SharedInputs
from verno.core.explain import trace_for
from verno.core.matchresources import MatchResources, verdict_key
from verno.core.policykinds import KindInputs, payload_kind
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.plugins.validatingpolicy.authz import AUTHZ_MODES, PAYLOADS, authz_rule

RULE_TYPE = "Validation"
_TYPED = ("request", "namespaceObject")
REPORT_SOURCE = "KyvernoValidatingPolicy"
#: the ``exceptions`` variable when no partial exception applies
_NO_EXCEPTIONS = {"allowedImages": [], "allowedValues": []}
_MAX_VERDICTS = 256


@dataclass
class ValidationProgram:
    program: Any
    message: str
    message_expression: Any = None  # Program | None


@dataclass
class CompiledSpec:
    """One variant of the policy (the policy itself, or an autogen variant for Pod controllers)."""

    config: str  # "" for the policy itself, "defaults"/"cronjobs" for autogen variants
    match: MatchResources | None
    conditions: list[tuple[str, Any]]
    variables: VariableSet
    validations: list[ValidationProgram]
    audit_annotations: list[tuple[str, Any]]


@dataclass
class ValidatingPolicy:
    """A ValidatingPolicy or NamespacedValidatingPolicy, ready to evaluate (a :class:`KindPolicy`)."""

    kind: str
    api_version: str
    name: str
    namespace: str
    source: str
    annotations: Mapping[str, str]
    failure_policy: str
    validation_actions: frozenset[str]
    admission: bool
    background: bool
    mode: str
    env: Any
    variants: list[CompiledSpec]
    #: whether unmatched constraints give no response at all (one plain resource rule) rather than an empty one
    simple_constraints: bool
    report_source: str = REPORT_SOURCE
    timeout_seconds: int = 10
    spec: Any = field(default=None, repr=False)
    #: the document as read (the webhook's policy-set digest covers it; webhook-config reads its constraints)
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: the chosen variant (or None) by :func:`~verno.core.matchresources.verdict_key`, when every variant's
    #: constraints select by resource only (no selectors, no names)
    _variants: dict[Any, CompiledSpec | None] | None = field(default=None, init=False, repr=False,
                                                             compare=False)

    def __post_init__(self) -> None:
        if self.variants and all(v.match is not None and v.match.by_resource_only for v in self.variants):
            self._variants = {}

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool | str = False) \
            -> PolicyResponse | None:
        obj = request.resource or request.old_resource or {}
        kind = payload_kind(payload)
        if self.mode in AUTHZ_MODES:
            if kind != PAYLOADS[self.mode]:
                return None  # an authorization policy reads only its mode's requests
            response = PolicyResponse(self, obj, [], operation=request.operation)
            response.rules.append(authz_rule(self, self.variants[0], obj))
            return response
        if kind not in ("", "json"):
            return None  # Envoy and HTTP payloads are for authorization policies only
        if self.mode == "JSON":
            return self._evaluate(self.variants[0], request, obj, inputs, _json_inputs(obj))
        if payload:
            return None  # Kubernetes-mode policies do not read JSON payloads
        if self.namespace and request.namespace != self.namespace:
            return None
        facts = request.cache.get(_FACTS)
        if facts is None or facts[0] is not inputs:
            facts = _request_facts(request, inputs)
        namespace = facts[1]
        variant = self._variant(request, namespace, facts[2])
        if variant is None:
            if self.variants[0].match is None or self.simple_constraints:
                return None
            return PolicyResponse(self, obj, [], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        response = PolicyResponse(self, obj, [], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        response.rules.append(self._rule(variant, _request_inputs(request, namespace), inputs))
        return response

    def _variant(self, request: Request, namespace: Mapping[str, Any] | None,
                 key: Any = None) -> CompiledSpec | None:
        """The first variant whose constraints select the request (the policy's own, or an autogen one).
        ``key``: the request's :func:`~verno.core.matchresources.verdict_key`, when already known."""
        cache = self._variants
        if cache is not None:
            if key is None:
                key = verdict_key(request)
            if key in cache:
                return cache[key]
        variant = next((v for v in self.variants if v.match is not None and v.match.matches(request, namespace)),
                       None)
        if cache is not None:
            if len(cache) >= _MAX_VERDICTS:
                cache.clear()
            cache[key] = variant
        return variant

    def _evaluate(self, variant: CompiledSpec, request: Request, obj: dict[str, Any], inputs: KindInputs,
                  values: dict[str, Any]) -> PolicyResponse:
        response = PolicyResponse(self, obj, [], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        response.rules.append(self._rule(variant, _Inputs(_usable(values)), inputs))
        return response

    def _rule(self, variant: CompiledSpec, given: _Inputs, inputs: KindInputs) -> RuleResponse:
        """``given``: the evaluation's inputs; an admission request's are shared by every policy evaluating
        it (sizes measured once, the runtime's activation converted once)."""
        trace = trace_for(self)  # None unless explaining
        if trace is not None:
            trace.add("match", clause=f"autogen {variant.config}" if variant.config else "spec.matchConstraints")
        compiled = exceptions_for(self.kind, self.name, inputs.companions, self.env, inputs.memo,
                                  variant.variables)
        values: SharedInputs | dict[str, Any] = given.shared
        if not compiled and trace is None and not variant.conditions and not variant.audit_annotations:
            results = given.shared.results
            if results is not None:  # every validation already evaluated ahead, and true: a pass
                for validation in variant.validations:
                    if results.get(id(validation.program)) is not True:
                        break
                else:
                    return RuleResponse("", RULE_TYPE, Status.PASS, "success", properties={})
        if compiled:
            outcome = match_exceptions(compiled, given.plain)
            if outcome.exempt:
                if trace is not None:
                    trace.add("exception", result="exempt")
                return exception_rule(outcome, RULE_TYPE)
            if outcome.error is not None:
                return RuleResponse("evaluation", RULE_TYPE, Status.ERROR,
                                    f"failed to load context: {outcome.error.detail}")
            exempt_values = outcome.variable()
            if exempt_values["allowedImages"] or exempt_values["allowedValues"]:
                values = {**given.plain, "exceptions": exempt_values}  # this policy's own inputs
        error = self._match_conditions(variant, values, trace)
        if error is not None:
            return error
        activation = Activation(values, variant.variables)
        properties: dict[str, str] = {}
        status, message = Status.PASS, "success"
        for index, validation in enumerate(variant.validations):
            try:
                result = activation.evaluate(validation.program)
            except CELError as err:
                if trace is not None:
                    trace.add("cel", field=f"validations[{index}]", expression=validation.program.source,
                              error=err.detail)
                return RuleResponse("", RULE_TYPE, Status.ERROR, f"error: {err.detail}",
                                    properties={"cel.validationIndex": str(index)})
            if trace is not None:
                trace.add("cel", field=f"validations[{index}]", expression=validation.program.source, value=result)
            if result is True:
                continue
            status, message = Status.FAIL, _message(validation, activation, index)
            properties["cel.validationIndex"] = str(index)
            break
        for key, program in variant.audit_annotations:
            try:
                value = activation.evaluate(program)
            except CELError as err:
                return RuleResponse("", RULE_TYPE, Status.ERROR, f"error: {err.detail}")
            if value is None:
                return RuleResponse("", RULE_TYPE, Status.ERROR,
                                    f"error: audit annotation {key!r}: expected a string, got null")
            if value != "":
                properties[key] = str(value)
        return RuleResponse("", RULE_TYPE, status, message, properties=properties)

    def _match_conditions(self, variant: CompiledSpec, values: SharedInputs | dict[str, Any],
                          trace: Any = None) -> RuleResponse | None:
        if not variant.conditions:
            return None
        activation = Activation(values)
        first_error: CELError | None = None
        for _name, program in variant.conditions:
            try:
                value = activation.evaluate(program)
                if trace is not None:
                    trace.add("cel", field=f"matchConditions[{_name}]", expression=program.source, value=value)
                if value is not True:
                    return RuleResponse("", RULE_TYPE, Status.SKIP, "skip")
            except CELError as err:
                if trace is not None:
                    trace.add("cel", field=f"matchConditions[{_name}]", expression=program.source, error=err.detail)
                first_error = first_error or err
        if first_error is None:
            return None
        if self.failure_policy == "Ignore":
            return RuleResponse("", RULE_TYPE, Status.SKIP, "skip")
        return RuleResponse("evaluation", RULE_TYPE, Status.ERROR, f"failed to load context: {first_error.detail}")


def _message(validation: ValidationProgram, activation: Activation, index: int) -> str:
    message = validation.message
    if validation.message_expression is not None:
        try:
            message = str(activation.evaluate(validation.message_expression))
        except CELError as err:
            message = f"failed to evaluate message expression: {err.detail}"
    return message or f"CEL expression validation failed at index {index}"


@dataclass
class _Inputs:
    """One evaluation's inputs: ``plain`` (what PolicyExceptions read) and ``shared`` (with the empty
    ``exceptions`` variable, what the policy reads when no partial exception applies)."""

    plain: dict[str, Any]
    #: values already measured (the CLI measures the resource while it converts its numbers)
    known: list[Measured] = field(default_factory=list)
    shared: SharedInputs = field(init=False)

    def __post_init__(self) -> None:
        self.shared = SharedInputs({**self.plain, "exceptions": _NO_EXCEPTIONS}, known=self.known)


def _usable(values: dict[str, Any]) -> dict[str, Any]:
    """The typed variables cannot be null in the runtime: an unset one fails the expressions that read it."""
    return {k: v for k, v in values.items() if v is not None or k not in _TYPED}


#: where a request's memo keeps what every policy evaluating it reads alike: (the run's inputs, the
#: namespace object, the verdict key)
_FACTS = "cel.vpol.facts"


def _request_facts(request: Request, inputs: KindInputs) -> tuple[KindInputs, Mapping[str, Any] | None, Any]:
    namespace = inputs.namespaces.get(request.namespace) if request.namespace else None
    if request.kind == "Namespace" and not request.namespace:
        namespace = None
    facts = request.cache[_FACTS] = (inputs, namespace, verdict_key(request))
    return facts


def _request_inputs(request: Request, namespace: Mapping[str, Any] | None) -> _Inputs:
    """The admission inputs of a request and namespace object, made once and shared by every policy
    evaluating it (the request's memo is rebuilt when a mutation changes the resource)."""
    key = ("cel.vpol.inputs", id(namespace) if namespace is not None else None)
    found = request.cache.get(key)
    if found is None or found[0] is not namespace:
        found = (namespace, _Inputs(_usable(admission_inputs(request, namespace)), noted_measures(request.cache)))
        request.cache[key] = found
    return found[1]


def _json_inputs(payload: dict[str, Any] | None) -> dict[str, Any]:
    return {"object": payload, "oldObject": None, "request": None, "namespaceObject": None}
