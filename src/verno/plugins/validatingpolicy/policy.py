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
from verno.core.cel.admission import measured_admission_inputs
from verno.core.cel.cost import Sizes, input_size, larger
from verno.core.cel.exceptions import exception_rule, exceptions_for, match_exceptions
from verno.core.explain import trace_for
from verno.core.matchresources import MatchResources
from verno.core.policykinds import KindInputs, payload_kind
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.plugins.validatingpolicy.authz import AUTHZ_MODES, PAYLOADS, authz_rule

RULE_TYPE = "Validation"
_TYPED = ("request", "namespaceObject")
REPORT_SOURCE = "KyvernoValidatingPolicy"


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
            return self._evaluate(self.variants[0], request, obj, inputs, _json_inputs(obj), None)
        if payload:
            return None  # Kubernetes-mode policies do not read JSON payloads
        if self.namespace and request.namespace != self.namespace:
            return None
        namespace = inputs.namespaces.get(request.namespace) if request.namespace else None
        if request.kind == "Namespace" and not request.namespace:
            namespace = None
        variant = next((v for v in self.variants if v.match is not None and v.match.matches(request, namespace)),
                       None)
        if variant is None:
            if self.variants[0].match is None or self.simple_constraints:
                return None
            return PolicyResponse(self, obj, [], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        values, sizes = measured_admission_inputs(request, namespace)
        return self._evaluate(variant, request, obj, inputs, values, sizes, request.cache)

    def _evaluate(self, variant: CompiledSpec, request: Request, obj: dict[str, Any], inputs: KindInputs,
                  values: dict[str, Any], sizes: Sizes | None,
                  memo: dict[Any, Any] | None = None) -> PolicyResponse:
        response = PolicyResponse(self, obj, [], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        response.rules.append(self._rule(variant, values, inputs, sizes, memo))
        return response

    def _rule(self, variant: CompiledSpec, values: dict[str, Any], inputs: KindInputs,
              sizes: Sizes | None = None, memo: dict[Any, Any] | None = None) -> RuleResponse:
        """``sizes``: bounds on ``values`` already measured; ``memo``: the request's, where the runtime's
        activations of the same inputs are shared by every policy of the request (converted once)."""
        given = values  # the request's shared inputs (the memo's key)
        trace = trace_for(self)  # None unless explaining
        if trace is not None:
            trace.add("match", clause=f"autogen {variant.config}" if variant.config else "spec.matchConstraints")
        # the typed variables cannot be null in the runtime: an unset one fails the expressions that read it
        values = {k: v for k, v in values.items() if v is not None or k not in _TYPED}
        compiled = exceptions_for(self.kind, self.name, inputs.companions, self.env, inputs.memo,
                                  variant.variables)
        outcome = match_exceptions(compiled, values)
        if outcome.exempt:
            if trace is not None:
                trace.add("exception", result="exempt")
            return exception_rule(outcome, RULE_TYPE)
        if outcome.error is not None:
            return RuleResponse("evaluation", RULE_TYPE, Status.ERROR,
                                f"failed to load context: {outcome.error.detail}")
        shared = None
        exempt_values = outcome.variable()
        if memo is not None and not exempt_values["allowedImages"] and not exempt_values["allowedValues"]:
            key = ("cel.vpol.inputs", id(given))
            entry = memo.get(key)
            if entry is None or entry[0] is not given:
                entry = (given, {**values, "exceptions": exempt_values}, {})
                memo[key] = entry
            values, shared = entry[1], entry[2]
        else:
            values = {**values, "exceptions": exempt_values}
        if sizes is not None and shared is None:  # the empty exceptions variable changes no bound
            sizes = larger(sizes, input_size(values["exceptions"]))
        error = self._match_conditions(variant, values, sizes, shared, trace)
        if error is not None:
            return error
        activation = Activation(values, variant.variables, sizes=sizes, shared=shared)
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

    def _match_conditions(self, variant: CompiledSpec, values: dict[str, Any],
                          sizes: Sizes | None = None, shared: dict[tuple, Any] | None = None,
                          trace: Any = None) -> RuleResponse | None:
        if not variant.conditions:
            return None
        activation = Activation(values, sizes=sizes, shared=shared)
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


def _json_inputs(payload: dict[str, Any] | None) -> dict[str, Any]:
    return {"object": payload, "oldObject": None, "request": None, "namespaceObject": None}
