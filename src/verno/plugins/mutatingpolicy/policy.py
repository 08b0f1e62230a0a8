"""A loaded MutatingPolicy: every expression compiled once, evaluated as Kyverno's mpol engine does.

Evaluation of one resource (``pkg/cel/policies/mpol/compiler/policy.go``):

1. ``matchConstraints`` (the policy's, or an autogen variant's for Pod controllers) must select the
   request; a Namespaced policy sees only requests in its namespace. Payloads are not read.
2. PolicyExceptions (:mod:`verno.core.cel.exceptions`): a full exemption is the ``exception`` rule.
3. ``variables`` are bound before ``matchConditions``, so conditions may read them; a false condition is
   ``skip``, an error is ``error`` (failurePolicy is not consulted).
4. ``mutations`` in order, each seeing ``object`` as patched by the ones before (variables are evaluated
   again for each): an ApplyConfiguration is merged into the object
   (:func:`~verno.core.cel.applyconfig.apply_configuration`), a JSONPatch applied; any error is ``error``
   ``failed to evaluate policy: <error>``.
5. ``auditAnnotations`` become properties; the result is ``pass`` ``success`` with the patched resource,
   also when nothing changed.

With ``evaluation.mutateExisting.enabled`` and target resources given (a Test's ``targetResources``),
the trigger is matched as above and the mutations are applied to each target instead: targets selected
by ``targetMatchConstraints`` (its resource rules, operations ignored; else its ``expression``, one object
or a List; else the trigger's ``matchConstraints``), filtered by ``targetMatchConditions`` with
``object`` the target. Each target gives a rule carrying the patched target.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel import Activation, CELError, VariableSet
from verno.core.cel.conditions import evaluate_conditions
from verno.core.cel.admission import admission_inputs
from verno.core.cel.applyconfig import MutationError, apply_configuration, apply_json_patch
from verno.core.cel.exceptions import exception_rule, exceptions_for, match_exceptions
from verno.core.matchresources import MatchResources
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status

RULE_TYPE = "Mutation"
REPORT_SOURCE = "KyvernoMutatingPolicy"
_TYPED = ("request", "namespaceObject")


@dataclass
class MutationProgram:
    patch_type: str  # ApplyConfiguration | JSONPatch
    program: Any


@dataclass
class CompiledSpec:
    """One variant of the policy (the policy itself, or an autogen variant for Pod controllers)."""

    config: str
    match: MatchResources | None
    conditions: list[tuple[str, Any]]
    variables: VariableSet
    mutations: list[MutationProgram]
    audit_annotations: list[tuple[str, Any]]


@dataclass
class Targets:
    """How mutateExisting selects its targets."""

    match: MatchResources | None
    expression: Any  # Program | None
    conditions: list[tuple[str, Any]]


@dataclass
class MutatingPolicy:
    """A MutatingPolicy or NamespacedMutatingPolicy, ready to evaluate (a :class:`KindPolicy`)."""

    kind: str
    api_version: str
    name: str
    namespace: str
    source: str
    annotations: Mapping[str, str]
    failure_policy: str
    admission: bool
    background: bool
    env: Any
    variants: list[CompiledSpec]
    simple_constraints: bool
    reinvocation_policy: str = "Never"
    replace_atomic: bool = False
    mutate_existing: Targets | None = None
    validation_actions: frozenset[str] = frozenset()
    report_source: str = REPORT_SOURCE
    timeout_seconds: int = 10
    spec: Any = field(default=None, repr=False)
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool | str = False) \
            -> PolicyResponse | None:
        if payload:
            return None  # a Kubernetes-mode policy does not read payloads
        if self.namespace and request.namespace != self.namespace:
            return None
        obj = request.resource or request.old_resource or {}
        namespace = inputs.namespaces.get(request.namespace) if request.namespace else None
        if request.kind == "Namespace" and not request.namespace:
            namespace = None
        variant = next((v for v in self.variants if v.match is not None and v.match.matches(request, namespace)),
                       None)
        response = PolicyResponse(self, obj, [], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        if variant is None:
            return None if self.variants[0].match is None or self.simple_constraints else response
        values = admission_inputs(request, namespace)
        targets = getattr(inputs, "targets", None) or []
        if self.mutate_existing is not None and targets:
            response.rules.extend(self._existing(variant, values, inputs, targets, namespace))
            response.patched_resource = obj
            return response
        rule, patched = self._rule(variant, values, inputs)
        response.rules.append(rule)
        response.patched_resource = patched if patched is not None else obj
        return response

    def _inputs(self, values: Mapping[str, Any], inputs: KindInputs, variant: CompiledSpec) \
            -> tuple[dict[str, Any] | None, RuleResponse | None]:
        """The evaluation's inputs with ``exceptions``, or the rule an exception decides."""
        values = {k: v for k, v in values.items() if v is not None or k not in _TYPED}
        compiled = exceptions_for(self.kind, self.name, inputs.companions, self.env, inputs.memo,
                                  variant.variables)
        outcome = match_exceptions(compiled, values)
        if outcome.exempt:
            return None, exception_rule(outcome, RULE_TYPE)
        if outcome.error is not None:
            return None, RuleResponse("evaluation", RULE_TYPE, Status.ERROR,
                                      f"failed to evaluate policy: {outcome.error.detail}")
        return {**values, "exceptions": outcome.variable()}, None

    def _conditions(self, conditions: list[tuple[str, Any]], activation: Activation) -> RuleResponse | None:
        met, error = evaluate_conditions((program for _name, program in conditions), activation)
        if error is not None:
            return RuleResponse("evaluation", RULE_TYPE, Status.ERROR, f"failed to evaluate policy: {error.detail}")
        return None if met else RuleResponse("", RULE_TYPE, Status.SKIP, "skip")

    def _rule(self, variant: CompiledSpec, values: Mapping[str, Any], inputs: KindInputs) \
            -> tuple[RuleResponse, dict[str, Any] | None]:
        """The rule of the admission path and the patched object (None unless it passed)."""
        bound, decided = self._inputs(values, inputs, variant)
        if decided is not None:
            return decided, None
        assert bound is not None
        skipped = self._conditions(variant.conditions, Activation(bound, variant.variables))
        if skipped is not None:
            return skipped, None
        return self._mutate(variant, bound, bound.get("object") or {})

    def _mutate(self, variant: CompiledSpec, bound: dict[str, Any], obj: dict[str, Any]) \
            -> tuple[RuleResponse, dict[str, Any] | None]:
        """Every mutation applied in turn to ``obj``, then the audit annotations."""
        current = obj
        for mutation in variant.mutations:
            activation = Activation({**bound, "object": current}, variant.variables)
            try:
                value = activation.evaluate(mutation.program)
                if mutation.patch_type == "ApplyConfiguration":
                    current = apply_configuration(current, value, replace_atomic=self.replace_atomic)
                else:
                    current = apply_json_patch(current, value)
            except CELError as err:
                return RuleResponse("", RULE_TYPE, Status.ERROR, f"failed to evaluate policy: {err.detail}"), None
            except MutationError as err:
                return RuleResponse("", RULE_TYPE, Status.ERROR, f"failed to evaluate policy: {err}"), None
        properties: dict[str, str] = {}
        activation = Activation({**bound, "object": current}, variant.variables)
        for key, program in variant.audit_annotations:
            try:
                value = activation.evaluate(program)
            except CELError as err:
                return RuleResponse("", RULE_TYPE, Status.ERROR, f"failed to evaluate policy: {err.detail}"), None
            if isinstance(value, str) and value:
                properties[key] = value
        return RuleResponse("", RULE_TYPE, Status.PASS, "success", properties=properties,
                            patched_resource=current), current

    # -- mutateExisting ----------------------------------------------------------------------------------
    def _existing(self, variant: CompiledSpec, values: Mapping[str, Any], inputs: KindInputs,
                  targets: list[dict[str, Any]], namespace: Mapping[str, Any] | None) -> list[RuleResponse]:
        bound, decided = self._inputs(values, inputs, variant)
        if decided is not None:
            return [decided]
        assert bound is not None and self.mutate_existing is not None
        trigger = Activation(bound, variant.variables)
        skipped = self._conditions(variant.conditions, trigger)
        if skipped is not None:
            return [skipped]
        selection = self.mutate_existing
        if selection.match is None and selection.expression is not None:
            try:
                found = trigger.evaluate(selection.expression)
            except CELError as err:
                return [RuleResponse("", RULE_TYPE, Status.ERROR, f"failed to evaluate policy: {err.detail}")]
            chosen = _listed(found)
        else:
            match = selection.match or variant.match
            chosen = [t for t in targets if match is not None and match.matches(
                Request(t, None, "CREATE"), None, check_operation=False)]
        rules: list[RuleResponse] = []
        for target in chosen:
            target_values = {**bound, "object": target}
            if selection.conditions:
                skipped = self._conditions(selection.conditions, Activation(target_values, variant.variables))
                if skipped is not None:
                    continue
            rule, _ = self._mutate(variant, target_values, target)
            if rule.patched_resource is None:
                rule.patched_resource = target
            rules.append(rule)
        return rules


def _listed(found: Any) -> list[dict[str, Any]]:
    """The targets a target expression returned: one object, a List's ``items``, or none (null)."""
    if isinstance(found, dict) and isinstance(found.get("items"), list):
        return [i for i in found["items"] if isinstance(i, dict)]
    if isinstance(found, dict) and found:
        return [found]
    return []
