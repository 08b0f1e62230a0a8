"""A loaded GeneratingPolicy, evaluated as Kyverno's gpol engine does (``pkg/cel/policies/gpol``).

For one trigger:

1. ``matchConstraints`` must select the request (a Namespaced policy sees only its namespace); not selected:
   no response.
2. ``policies.kyverno.io`` PolicyExceptions naming the policy: one that matches exempts the trigger (the
   ``exception`` rule, skip).
3. ``matchConditions``: a false one gives no response; an error is the policy's ``error``.
4. ``generate[]`` in order, with lazy ``variables``: an expression (``generator.Apply(...)``) hands objects to
   the generator; a template renders its documents, each generated in its own ``metadata.namespace``. An
   error stops with ``error`` ``failed to evaluate policy: <error>``.
5. ``auditAnnotations`` become properties; the result is ``pass`` "policy evaluated successfully" (rule named
   after the policy, type ``Generation``) carrying the generated objects.

Each generated object is what the generator was given, in the target namespace (offline, also for cluster-
scoped kinds, as ``kyverno test`` does), without the source's identity (uid, resourceVersion, creation time,
managed fields, and its ownerReferences when copied from another namespace).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel import Activation, CELError, VariableSet
from verno.core.cel.conditions import evaluate_conditions
from verno.core.cel.admission import measured_admission_inputs
from verno.core.cel.exceptions import exception_rule, exceptions_for, match_exceptions
from verno.core.cel.libs.kyverno_generator import collecting
from verno.core.matchresources import MatchResources
from verno.core.policykinds import KindInputs, payload_kind
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.plugins.generatingpolicy.template import Template, TemplateError, render

RULE_TYPE = "Generation"
PASSED = "policy evaluated successfully"
_TYPED = ("request", "namespaceObject")
_IDENTITY = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
             "deletionTimestamp", "deletionGracePeriodSeconds")


@dataclass
class Step:
    """One ``generate`` entry: a compiled expression, or a parsed template."""

    program: Any = None
    template: Template | None = None


@dataclass
class GeneratingPolicy:
    kind: str
    api_version: str
    name: str
    namespace: str
    source: str
    annotations: Mapping[str, str]
    env: Any
    match: MatchResources
    conditions: list[tuple[str, Any]]
    variables: VariableSet
    steps: list[Step]
    audit_annotations: list[tuple[str, Any]]
    admission: bool = True
    background: bool = True
    synchronize: bool = False
    generate_existing: bool = False
    orphan_downstream: bool = False
    #: downstream objects are written by server-side apply (``useServerSideApply``)
    server_side_apply: bool = False
    #: requests made by the controller itself are not handed over (``evaluation.skipBackgroundRequests``)
    skip_background_requests: bool = True
    report_source: str = "KyvernoGeneratingPolicy"
    failure_policy: str = "Ignore"  # no failurePolicy field: Kyverno treats it as Ignore
    validation_actions: frozenset[str] = frozenset()
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool | str = False) \
            -> PolicyResponse | None:
        if payload_kind(payload):
            return None  # a GeneratingPolicy reads Kubernetes objects only
        if self.namespace and request.namespace != self.namespace:
            return None
        namespace = inputs.namespaces.get(request.namespace) if request.namespace else None
        if request.kind == "Namespace" and not request.namespace:
            namespace = None
        if not self.match.matches(request, namespace):
            return None
        values, _ = measured_admission_inputs(request, namespace)
        rule = self.rule(values, inputs)
        if rule is None:
            return None
        obj = request.resource or request.old_resource or {}
        response = PolicyResponse(self, obj, [rule], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        return response

    def rule(self, values: dict[str, Any], inputs: KindInputs) -> RuleResponse | None:
        """The policy's one rule for a trigger's admission inputs (None: its match conditions are not met)."""
        values = {k: v for k, v in values.items() if v is not None or k not in _TYPED}
        compiled = exceptions_for(self.kind, self.name, inputs.companions, self.env, inputs.memo, self.variables)
        outcome = match_exceptions(compiled, values)
        if outcome.exempt:
            return exception_rule(outcome, RULE_TYPE)
        if outcome.error is not None:
            return RuleResponse(self.name, RULE_TYPE, Status.ERROR, f"failed to evaluate policy: "
                                                                    f"{outcome.error.detail}")
        values = {**values, "exceptions": outcome.variable()}
        if self.conditions:
            met, error = evaluate_conditions((program for _name, program in self.conditions), Activation(values))
            if error is not None:
                return RuleResponse(self.name, RULE_TYPE, Status.ERROR, f"failed to evaluate policy: {error.detail}")
            if not met:
                return None
        activation = Activation(values, self.variables)
        generated: list[tuple[str, dict[str, Any]]] = []
        try:
            for step in self.steps:
                if step.program is not None:
                    with collecting() as sink:
                        activation.evaluate(step.program)
                    generated.extend(sink)
                else:
                    for doc in render(step.template, activation.evaluate):  # type: ignore[arg-type]
                        namespace = str((doc.get("metadata") or {}).get("namespace") or self.namespace)
                        generated.append((namespace, doc))
            properties: dict[str, str] = {}
            for key, program in self.audit_annotations:
                value = activation.evaluate(program)
                if value not in (None, ""):
                    properties[key] = str(value)
        except (CELError, TemplateError) as err:
            detail = err.detail if isinstance(err, CELError) else str(err)
            return RuleResponse(self.name, RULE_TYPE, Status.ERROR, f"failed to evaluate policy: {detail}")
        objects = [downstream(obj, namespace) for namespace, obj in generated]
        return RuleResponse(self.name, RULE_TYPE, Status.PASS, PASSED, properties=properties,
                            generated_resources=objects)


def downstream(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The object to create for ``obj`` in ``namespace``: the source's identity left behind."""
    out = copy.deepcopy(dict(obj))
    metadata = dict(out.get("metadata") or {})
    source_namespace = str(metadata.get("namespace") or "")
    for key in _IDENTITY:
        metadata.pop(key, None)
    if source_namespace and source_namespace != namespace:
        metadata.pop("ownerReferences", None)
    if namespace:
        metadata["namespace"] = namespace
    out["metadata"] = metadata
    out.pop("status", None)
    return out
