"""A loaded DeletingPolicy: whether a resource is one the policy would delete.

Per resource (Kyverno's ``pkg/cel/policies/dpol/compiler/policy.go``; offline as ``kyverno test`` runs it,
``commands/test/test.go`` ``applyDeletingPolicies``):

1. an object with ``apiVersion`` and ``kind`` must be selected by ``matchConstraints`` (every operation
   counts: a scheduled deletion is no admission request); a JSON payload skips matching. A
   NamespacedDeletingPolicy sees only objects of its namespace. Not selected: no response.
2. ``policies.kyverno.io`` PolicyExceptions naming the policy: one that matches keeps the resource
   (``fail``, "resource did not match").
3. ``conditions`` with lazy ``variables`` over ``object`` and ``namespaceObject``: all true => ``pass``
   ("resource matched": it would be deleted); one false => ``fail``; otherwise an error => ``error``.

The rule is named after the policy (type ``Deletion``). ``schedule`` and ``deletionPropagationPolicy`` are for
the controller, which deletes at the scheduled times.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel import Activation, VariableSet
from verno.core.cel.conditions import evaluate_conditions
from verno.core.cel.admission import namespace_object
from verno.core.cel.exceptions import exception_key, exceptions_for, match_exceptions
from verno.core.matchresources import MatchResources
from verno.core.policykinds import KindInputs, payload_kind
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status

RULE_TYPE = "Deletion"
MATCHED = "resource matched"
NOT_MATCHED = "resource did not match"


@dataclass
class DeletingPolicy:
    """A DeletingPolicy or NamespacedDeletingPolicy, ready to evaluate (a :class:`KindPolicy`)."""

    kind: str
    api_version: str
    name: str
    namespace: str
    source: str
    annotations: Mapping[str, str]
    env: Any
    match: MatchResources | None
    conditions: list[tuple[str, Any]]
    variables: VariableSet
    schedule: str
    propagation: str
    report_source: str = "KyvernoDeletingPolicy"
    # never an admission policy: it acts on a schedule, in the controller
    failure_policy: str = "Ignore"
    validation_actions: frozenset[str] = frozenset()
    admission: bool = False
    background: bool = False
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool | str = False) \
            -> PolicyResponse | None:
        if payload_kind(payload) not in ("", "json"):
            return None
        obj = request.resource or request.old_resource or {}
        namespace: dict[str, Any] | None = None
        if obj.get("apiVersion") and obj.get("kind") and not payload:
            if self.namespace and request.namespace != self.namespace:
                return None
            if request.namespace and not (request.kind == "Namespace" and request.group == ""):
                namespace = inputs.namespaces.get(request.namespace)
            if self.match is not None and not self.match.matches(request, namespace):
                return None
        elif payload and self.namespace:
            return None  # a namespaced policy selects objects of its namespace; a payload has none
        response = PolicyResponse(self, obj, [], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        response.rules.append(self.decide({"object": obj, "namespaceObject": namespace_object(namespace)}, inputs))
        return response

    def decide(self, values: dict[str, Any], inputs: KindInputs) -> RuleResponse:
        """The verdict for one object (``values``: ``object`` and ``namespaceObject``)."""
        compiled = exceptions_for(self.kind, self.name, inputs.companions, self.env, inputs.memo, self.variables)
        if compiled:
            outcome = match_exceptions(compiled, values)
            if outcome.exempt:
                keys = ", ".join(exception_key(e) for e in outcome.exempt)
                return RuleResponse(self.name, RULE_TYPE, Status.FAIL, NOT_MATCHED, exception=keys,
                                    properties={"exceptions": keys})
            if outcome.error is not None:
                return RuleResponse(self.name, RULE_TYPE, Status.ERROR, f"failed to evaluate exceptions: "
                                                                        f"{outcome.error.detail}")
        activation = Activation(values, self.variables)
        met, error = evaluate_conditions((program for _name, program in self.conditions), activation)
        if error is not None:
            return RuleResponse(self.name, RULE_TYPE, Status.ERROR, f"failed to evaluate condition: {error.detail}")
        return RuleResponse(self.name, RULE_TYPE, Status.PASS if met else Status.FAIL, MATCHED if met else NOT_MATCHED)
