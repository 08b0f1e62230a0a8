"""A loaded ValidatingAdmissionPolicy and how it evaluates a resource, offline and at admission.

**Offline** (``Sources.webhook`` empty: ``verno apply`` / ``verno test``), exactly as Kyverno's CLI
(``pkg/admissionpolicy/validate.go``): the request is always a CREATE without ``oldObject``; without
bindings the policy's ``matchConstraints`` decide, with bindings each binding naming the policy is tried in
order, its ``matchResources`` (when set) decide and the policy's ``matchConstraints`` are not checked; the
last binding evaluated gives the one rule (named after the policy, property ``binding``): ``skip`` when a
match condition is false, ``error`` for the first error decision, ``fail`` for the first denial, else
``pass``. ``validationActions`` and audit annotations play no part; nothing matched is a response without
rules (Kyverno's CLI shows it as excluded).

**At admission** (``Sources.webhook`` set), as the API server dispatches (``policy/generic/
policy_dispatcher.go``, ``policy/validating/dispatcher.go``): a policy without bindings does nothing; the
policy's ``matchConstraints`` and each binding's ``matchResources`` must both match; the params come from
``paramRef``; the policy is evaluated once per binding and param. Rules (all named after the policy) carry
the properties the webhook acts on:

* ``binding``, ``validationActions`` (the binding's, comma-separated; ``Deny`` when it lists none);
  a rule with status ``fail`` or ``error`` denies the request when ``Deny`` is among them, is a warning
  (``Validation failed for ValidatingAdmissionPolicy '<policy>' with binding '<binding>': <message>``)
  with ``Warn`` and is recorded (``validation.policy.admission.k8s.io/validation_failure``) with ``Audit``;
  the API server's denial reads ``ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied
  request: <message>``;
* ``fail``: one rule per false validation (``expressionIndex``, ``reason``); ``error``: one per evaluation
  error under failurePolicy ``Fail`` (``skip`` under ``Ignore``), a failed audit annotation, or a binding
  that cannot be configured (``failed to configure binding: ...``; these two deny whatever the actions, so
  their ``validationActions`` is ``Deny``); ``skip``: a false match condition; ``pass``: all validations
  held;
* published audit annotations as ``<policy>/<key>``; ``param``: the param object used (``ns/name``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel.admission import admission_inputs, authorizer_input
from verno.core.errors import LoadError, VernoError
from verno.core.explain import trace_for
from verno.core.loading import Document, validate_model
from verno.core.memo import IdentityMemo
from verno.core.matchresources import NAME_LABEL, MatchResources
from verno.core.params import cluster_params
from verno.core.policykinds import KindInputs, kind_key
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.core.scope import is_cluster_scoped

from verno.plugins.admissionpolicy import models
from verno.plugins.admissionpolicy.expressions import CompiledPolicy, ExpressionError, compile_policy
from verno.plugins.admissionpolicy.params import ParamError, admission_params, offline_params
from verno.plugins.admissionpolicy.validator import DENY, ValidateResult, validate

GROUP = "admissionregistration.k8s.io"
KIND = "ValidatingAdmissionPolicy"
BINDING = kind_key(GROUP, "ValidatingAdmissionPolicyBinding")
RULE_TYPE = "Validation"
UNMET = "match conditions aren't met"


def _dump(model: Any) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(by_alias=True, exclude_none=True)


@dataclass
class Binding:
    name: str
    spec: models.BindingSpec
    match: MatchResources | None
    actions: tuple[str, ...]


def load_binding(doc: Document) -> Binding:
    """A binding document, checked (a wrong field is a :class:`LoadError` naming it)."""
    model = validate_model(models.ValidatingAdmissionPolicyBinding, doc)
    if not model.metadata.name:
        raise LoadError(doc.source, "a binding needs a name", document=doc.index, field="metadata.name")
    spec = model.spec
    match = MatchResources(_dump(spec.match_resources)) if spec.match_resources is not None else None
    return Binding(model.metadata.name, spec, match, tuple(spec.validation_actions) or ("Deny",))


def check_binding(doc: Document, engine: Any) -> None:
    load_binding(doc)


def _load_companion(raw: dict[str, Any]) -> Binding:
    name = str(((raw.get("metadata") or {}) if isinstance(raw, dict) else {}).get("name") or "")
    return load_binding(Document(f"ValidatingAdmissionPolicyBinding {name or '(unnamed)'}", 0, raw))


#: a companion binding, parsed once per object
_binding = IdentityMemo(_load_companion, maxsize=4096)


@dataclass(eq=False)
class AdmissionPolicy:
    """A ValidatingAdmissionPolicy (a :class:`~verno.core.policykinds.KindPolicy`)."""

    name: str
    api_version: str
    source: str
    spec: models.PolicySpec
    compiled: CompiledPolicy
    annotations: Mapping[str, str] = field(default_factory=dict)
    kind: str = KIND
    namespace: str = ""
    report_source: str = "ValidatingAdmissionPolicy"
    admission: bool = True
    background: bool = True
    #: the union of the actions of the bindings naming the policy, as last seen
    validation_actions: frozenset[str] = frozenset({"Deny"})
    #: the document as read (the webhook's policy-set digest covers it; webhook-config reads its constraints)
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.match = MatchResources(_dump(self.spec.match_constraints))

    @property
    def key(self) -> str:
        return self.name

    def admission_message(self, rule: RuleResponse, action: str) -> str:
        """The API server's words for a denial or a warning of this policy at admission."""
        binding = rule.properties.get("binding", "")
        if action == "Deny":
            return f"ValidatingAdmissionPolicy '{self.name}' with binding '{binding}' denied request: {rule.message}"
        return f"Validation failed for ValidatingAdmissionPolicy '{self.name}' with binding '{binding}': {rule.message}"

    @property
    def failure_policy(self) -> str:
        return self.spec.failure_policy

    def bindings(self, inputs: KindInputs) -> list[Binding]:
        found = [b for b in (_binding(raw) for raw in inputs.companions.get(BINDING, ()))
                 if b.spec.policy_name == self.name]
        if found:
            self.validation_actions = frozenset(a for b in found for a in b.actions)
        return found

    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool = False) -> PolicyResponse | None:
        if payload:
            return None
        bindings = self.bindings(inputs)
        if inputs.sources is not None and inputs.sources.webhook:
            return self._admission(request, inputs, bindings)
        return self._offline(request, inputs, bindings)

    # -- offline (Kyverno's CLI) -------------------------------------------------------------------------
    def _offline(self, request: Request, inputs: KindInputs, bindings: list[Binding]) -> PolicyResponse:
        obj = request.resource or request.old_resource or {}
        create = Request(obj, None, "CREATE", request.user_info, namespace_labels=dict(request.namespace_labels))
        namespace = self._offline_namespace(create, inputs)
        base = {**admission_inputs(create, namespace), "authorizer": authorizer_input(create)}
        rule: RuleResponse | None = None
        if not bindings:
            if self.match.matches(create, namespace):
                rule = self._offline_rule(validate(self.compiled, {**base, "params": None}, self.failure_policy,
                                                        trace_for(self)))
        for binding in bindings:
            if binding.match is not None and not binding.match.matches(create, namespace):
                continue
            params = offline_params(binding.spec.param_ref, inputs.params) if binding.spec.param_ref else None
            rule = self._offline_rule(validate(self.compiled, {**base, "params": params}, self.failure_policy,
                                                    trace_for(self)))
            rule.properties["binding"] = binding.name
        return PolicyResponse(self, obj, [rule] if rule is not None else [], operation="CREATE",
                              namespace_labels=dict(request.namespace_labels))

    @staticmethod
    def _offline_namespace(request: Request, inputs: KindInputs) -> dict[str, Any] | None:
        """Kyverno's CLI: a Namespace named after the resource's namespace, with the labels the run gives it."""
        if request.kind == "Namespace" and request.api_version == "v1":
            return None
        name = request.namespace
        if not name:
            return None
        known = inputs.namespaces.get(name)
        if known is not None:
            labels = dict((known.get("metadata") or {}).get("labels") or {})
        else:
            labels = dict(request.namespace_labels)
        return {"metadata": {"name": name, "labels": labels}}

    def _offline_rule(self, result: ValidateResult) -> RuleResponse:
        if not result.matched:
            return RuleResponse(self.name, RULE_TYPE, Status.SKIP, UNMET)
        for decision in result.decisions:
            if decision.error:
                return RuleResponse(self.name, RULE_TYPE, Status.ERROR, decision.message)
            if decision.action == DENY:
                return RuleResponse(self.name, RULE_TYPE, Status.FAIL, decision.message)
        return RuleResponse(self.name, RULE_TYPE, Status.PASS, "")

    # -- admission (the API server) -----------------------------------------------------------------------
    def _admission(self, request: Request, inputs: KindInputs, bindings: list[Binding]) -> PolicyResponse | None:
        if not bindings:
            return None
        namespace = self._admission_namespace(request, inputs)
        if not self.match.matches(request, namespace):
            return None
        base = {**admission_inputs(request, namespace), "authorizer": authorizer_input(request)}
        params_namespace = "" if request.kind == "Namespace" and not request.subresource else request.namespace
        rules: list[RuleResponse] = []
        for binding in bindings:
            if binding.match is not None and not binding.match.matches(request, namespace):
                continue
            props = {"binding": binding.name, "validationActions": ",".join(binding.actions)}
            try:
                params = inputs.params or self._cluster_params(binding, inputs, params_namespace)
                found = admission_params(self.spec.param_kind, binding.spec.param_ref, params, params_namespace)
            except ParamError as exc:
                message = f"failed to configure binding: {exc}"
                if self.failure_policy == "Ignore":
                    rules.append(RuleResponse(self.name, RULE_TYPE, Status.SKIP, message, props))
                else:
                    rules.append(RuleResponse(self.name, RULE_TYPE, Status.ERROR, message,
                                              {**props, "validationActions": "Deny"}))
                continue
            for param in found:
                result = validate(self.compiled, {**base, "params": param}, self.failure_policy, trace_for(self))
                rules.extend(self._admission_rules(result, props, param))
        if not rules:
            return None
        return PolicyResponse(self, request.resource, rules, operation=request.operation,
                              namespace_labels=dict(request.namespace_labels))

    def _cluster_params(self, binding: Binding, inputs: KindInputs, namespace: str) -> list[dict[str, Any]]:
        """The binding's candidate params read from the cluster the webhook serves (none offline)."""
        kind, ref = self.spec.param_kind, binding.spec.param_ref
        if kind is None or ref is None or inputs.sources.cluster is None:
            return []
        where = "" if is_cluster_scoped(kind.kind) else (ref.namespace or namespace)
        try:
            return cluster_params(inputs.sources, kind.api_version, kind.kind, where, ref.name or "")
        except VernoError as exc:
            raise ParamError(str(exc)) from None

    @staticmethod
    def _admission_namespace(request: Request, inputs: KindInputs) -> dict[str, Any] | None:
        if request.kind == "Namespace" and not request.subresource or not request.namespace:
            return None
        known = inputs.namespaces.get(request.namespace)
        if known is not None:
            return dict(known)
        labels = dict(request.namespace_labels) or {NAME_LABEL: request.namespace}
        return {"metadata": {"name": request.namespace, "labels": labels}}

    def _admission_rules(self, result: ValidateResult, props: dict[str, str],
                         param: dict[str, Any] | None) -> list[RuleResponse]:
        props = dict(props)
        if param is not None:
            meta = param.get("metadata") or {}
            props["param"] = "/".join(x for x in (meta.get("namespace"), meta.get("name")) if x)
        if not result.matched:
            return [RuleResponse(self.name, RULE_TYPE, Status.SKIP, UNMET, props)]
        for annotation in result.annotations:
            if not annotation.error:
                props[f"{self.name}/{annotation.key}"] = annotation.value
        rules: list[RuleResponse] = []
        ignored = ""
        for decision in result.decisions:
            extra = {"expressionIndex": str(decision.index)} if decision.index >= 0 else {}
            if decision.action == DENY and decision.error:
                rules.append(RuleResponse(self.name, RULE_TYPE, Status.ERROR, decision.message, {**props, **extra}))
            elif decision.action == DENY:
                rules.append(RuleResponse(self.name, RULE_TYPE, Status.FAIL, decision.message,
                                          {**props, **extra, "reason": decision.reason}))
            elif decision.error and not ignored:
                ignored = decision.message
        for annotation in result.annotations:
            if annotation.error:
                rules.append(RuleResponse(self.name, RULE_TYPE, Status.ERROR, annotation.error,
                                          {**props, "validationActions": "Deny", "auditAnnotation": annotation.key}))
        if rules:
            return rules
        if ignored:
            return [RuleResponse(self.name, RULE_TYPE, Status.SKIP, ignored, props)]
        return [RuleResponse(self.name, RULE_TYPE, Status.PASS, "", props)]


def load_policy(doc: Document, engine: Any) -> AdmissionPolicy:
    """The loader of the ValidatingAdmissionPolicy kind: the document checked and its expressions compiled."""
    model = validate_model(models.ValidatingAdmissionPolicy, doc)
    name = model.metadata.name
    if not name:
        raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
    try:
        compiled = compile_policy(model.spec, engine)
    except ExpressionError as exc:
        raise LoadError(doc.source, f"ValidatingAdmissionPolicy {name}: {exc.error}", document=doc.index,
                        field=exc.field) from None
    return AdmissionPolicy(name, model.api_version, doc.source, model.spec, compiled,
                           dict(model.metadata.annotations), document=doc.data)
