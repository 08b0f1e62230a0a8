"""A loaded MutatingAdmissionPolicy and how it mutates a resource, offline and at admission.

Every expression is compiled once at load in Kubernetes' MutatingAdmissionPolicy environment (``object``,
``oldObject``, ``request``, ``namespaceObject``, ``variables``, ``params`` when the policy has a
``paramKind``; the ``Object`` and ``JSONPatch`` types and ``jsonpatch.escapeKey``). Variables may be read
by every later expression, match conditions included. One evaluation: every match condition is evaluated
(any ``false``: the policy does not apply, ``skip``; otherwise an error is the policy's failure), then the
mutations in order, each seeing ``object`` as patched by the ones before.

**Offline** (``verno apply`` / ``verno test``), as Kyverno's CLI (``pkg/admissionpolicy/mutate.go``): the
request is a CREATE without ``oldObject``; without bindings the policy's ``matchConstraints`` decide and
there are no params; with bindings each binding naming the policy is tried in order, its
``matchResources`` (when set) decide (the policy's constraints are not checked), its ``paramRef`` picks
the params among the Test's (a ``selector``: every match, as a List; a name: the first match), and the
last binding evaluated gives the one rule (named after the policy): ``pass`` ``mutation is successfully
applied`` with the patched resource, or ``skip`` when a match condition is false. Apply configurations
are merged without the kind's schema (Kyverno's deduced type converter: maps merge, every list is atomic).
A mutation that fails gives no rule (Kyverno's CLI then reports the resource as not found).

**At admission** (``Sources.webhook`` set), as the API server dispatches: a policy without bindings does
nothing; the policy's ``matchConstraints`` and each binding's ``matchResources`` must both match; params
are read from the cluster (or the run's params) for each binding; a failure (an expression, a patch, a
param that cannot be read) is ``error`` under ``failurePolicy: Fail`` (the request is denied) and ``skip``
under ``Ignore``. The kind's list semantics drive the merge.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel import Activation, CELError, VariableSet, environment_for
from verno.core.cel.admission import admission_inputs
from verno.core.cel.applyconfig import MutationError, apply_configuration, apply_json_patch
from verno.core.errors import LoadError, VernoError
from verno.core.loading import Document, validate_model
from verno.core.memo import IdentityMemo
from verno.core.matchresources import NAME_LABEL, MatchResources
from verno.core.params import collect_params
from verno.core.policykinds import KindInputs, kind_key
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.core.selectors import compile_selector

from verno.plugins.mutatingadmissionpolicy import models

GROUP = models.GROUP
KIND = "MutatingAdmissionPolicy"
BINDING = kind_key(GROUP, "MutatingAdmissionPolicyBinding")
RULE_TYPE = "Mutation"
APPLIED = "mutation is successfully applied"
UNMET = "match conditions aren't met"

_ENVIRONMENTS: dict[int, tuple[Any, Any]] = {}


def environment(engine: Any) -> Any:
    registry = getattr(engine, "cel_registry", None)
    entry = _ENVIRONMENTS.get(id(registry))
    if entry is None or entry[0] is not registry:
        entry = (registry, environment_for(KIND, registry))
        _ENVIRONMENTS[id(registry)] = entry
    return entry[1]


@dataclass
class Compiled:
    variables: VariableSet
    conditions: list[tuple[str, Any]]
    mutations: list[tuple[str, Any]]  # (patch type, Program)


def _output(program: Any, patch_type: str) -> str:
    output = program.output_type
    if output == "dyn":
        return ""
    if patch_type == "ApplyConfiguration" and not output.upper().startswith("MAP<"):
        return f"the apply configuration must evaluate to Object, got {output.lower()}"
    if patch_type == "JSONPatch" and not output.upper().startswith("LIST<"):
        return f"the JSON patch must evaluate to list(JSONPatch), got {output.lower()}"
    return ""


def compile_policy(doc: Document, name: str, spec: models.PolicySpec, engine: Any) -> Compiled:
    env = environment(engine)

    def fail(where: str, message: str) -> LoadError:
        return LoadError(doc.source, f"{KIND} {name}: {message}", document=doc.index, field=where)

    has_params = spec.param_kind is not None
    for i, v in enumerate(spec.variables):
        _check_names(fail, f"spec.variables[{i}].expression", v.expression, has_params)
    try:
        variables = VariableSet.compile(env, [(v.name, v.expression) for v in spec.variables])
    except CELError as err:
        index = next((i for i, v in enumerate(spec.variables) if v.expression == err.expression), 0)
        raise fail(f"spec.variables[{index}].expression", str(err)) from None

    def compile_one(where: str, expression: str, expect: tuple[str, ...]) -> Any:
        _check_names(fail, where, expression, has_params)
        try:
            return env.compile(expression, expect=expect, variables=variables)
        except CELError as err:
            raise fail(where, str(err)) from None

    conditions = [(c.name, compile_one(f"spec.matchConditions[{i}].expression", c.expression, ("bool",)))
                  for i, c in enumerate(spec.match_conditions)]
    mutations = []
    for i, m in enumerate(spec.mutations):
        if m.patch_type == "ApplyConfiguration":
            where, expression = f"spec.mutations[{i}].applyConfiguration.expression", m.apply_configuration.expression  # type: ignore[union-attr]
        else:
            where, expression = f"spec.mutations[{i}].jsonPatch.expression", m.json_patch.expression  # type: ignore[union-attr]
        program = compile_one(where, expression, ())
        problem = _output(program, m.patch_type)
        if problem:
            raise fail(where, f"compiling CEL expression `{expression}`: {problem}")
        mutations.append((m.patch_type, program))
    return Compiled(variables, conditions, mutations)


def _check_names(fail: Any, where: str, expression: str, has_params: bool) -> None:
    from verno.core.cel.syntax import SyntaxError_, parse

    try:
        names = {n.value for n in parse(expression).walk() if n.kind == "ident"}
    except SyntaxError_:
        return  # the compiler reports it
    if "authorizer" in names:
        raise fail(where, f"compiling CEL expression `{expression}`: the authorizer variable is not supported: "
                          "verno has no Kubernetes authorizer to ask")
    if "params" in names and not has_params:
        raise fail(where, f"compiling CEL expression `{expression}`: undeclared reference to 'params' "
                          "(the policy has no paramKind)")


@dataclass
class Binding:
    name: str
    spec: models.BindingSpec
    match: MatchResources | None


def load_binding(doc: Document) -> Binding:
    model = validate_model(models.MutatingAdmissionPolicyBinding, doc)
    if not model.metadata.name:
        raise LoadError(doc.source, "a binding needs a name", document=doc.index, field="metadata.name")
    raw = (doc.data.get("spec") or {}).get("matchResources") if isinstance(doc.data, dict) else None
    return Binding(model.metadata.name, model.spec, MatchResources(raw) if raw is not None else None)


def check_binding(doc: Document, engine: Any) -> None:
    load_binding(doc)


def _load_companion(raw: dict[str, Any]) -> Binding:
    name = str(((raw.get("metadata") or {}) if isinstance(raw, dict) else {}).get("name") or "")
    return load_binding(Document(f"MutatingAdmissionPolicyBinding {name or '(unnamed)'}", 0, raw))


#: a companion binding, parsed once per object
_binding = IdentityMemo(_load_companion, maxsize=4096)


class _Failed(Exception):
    """A mutation or a match condition failed: ``message`` says how."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(eq=False)
class MutatingAdmissionPolicy:
    """A MutatingAdmissionPolicy (a :class:`~verno.core.policykinds.KindPolicy`)."""

    name: str
    api_version: str
    source: str
    spec: models.PolicySpec
    compiled: Compiled
    match: MatchResources
    annotations: Mapping[str, str] = field(default_factory=dict)
    kind: str = KIND
    namespace: str = ""
    report_source: str = "MutatingAdmissionPolicy"
    admission: bool = True
    background: bool = True
    validation_actions: frozenset[str] = frozenset()
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return self.name

    @property
    def failure_policy(self) -> str:
        return self.spec.failure_policy

    @property
    def reinvocation_policy(self) -> str:
        return self.spec.reinvocation_policy

    def bindings(self, inputs: KindInputs) -> list[Binding]:
        return [b for b in (_binding(raw) for raw in inputs.companions.get(BINDING, ()))
                if b.spec.policy_name == self.name]

    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool | str = False) \
            -> PolicyResponse | None:
        if payload:
            return None
        bindings = self.bindings(inputs)
        if inputs.sources is not None and inputs.sources.webhook:
            return self._admission(request, inputs, bindings)
        return self._offline(request, inputs, bindings)

    # -- one evaluation ----------------------------------------------------------------------------------
    def _run(self, inputs: dict[str, Any], deduced: bool) -> dict[str, Any] | None:
        """The patched object, or None when a match condition is false; raises :class:`_Failed`."""
        activation = Activation(inputs, self.compiled.variables)
        errors: list[str] = []
        for _name, program in self.compiled.conditions:
            try:
                if activation.evaluate(program) is False:
                    return None
            except CELError as err:
                errors.append(f"expression '{program.source}' resulted in error: {err.detail}")
        if errors:
            raise _Failed(errors[0] if len(errors) == 1 else "[" + ", ".join(dict.fromkeys(errors)) + "]")
        current = inputs.get("object") or {}
        for patch_type, program in self.compiled.mutations:
            activation = Activation({**inputs, "object": current}, self.compiled.variables)
            try:
                value = activation.evaluate(program)
            except CELError as err:
                raise _Failed(f"expression '{program.source}' resulted in error: {err.detail}") from None
            try:
                if patch_type == "ApplyConfiguration":
                    current = apply_configuration(current, value, deduced=deduced)
                else:
                    current = apply_json_patch(current, value)
            except MutationError as err:
                raise _Failed(str(err)) from None
        return current

    # -- offline (Kyverno's CLI) -------------------------------------------------------------------------
    def _offline(self, request: Request, inputs: KindInputs, bindings: list[Binding]) -> PolicyResponse:
        obj = request.resource or request.old_resource or {}
        create = Request(obj, None, "CREATE", request.user_info, namespace_labels=dict(request.namespace_labels))
        namespace = _offline_namespace(create, inputs)
        base = admission_inputs(create, namespace)
        response = PolicyResponse(self, obj, [], operation="CREATE", namespace_labels=dict(request.namespace_labels))
        outcome: tuple[RuleResponse, dict[str, Any]] | None = None
        runs: list[tuple[Binding | None, dict[str, Any] | None]] = []
        if not bindings:
            if self.match.matches(create, namespace):
                runs.append((None, None))
        for binding in bindings:
            if binding.match is not None and not binding.match.matches(create, namespace):
                continue
            ref = binding.spec.param_ref
            runs.append((binding, _offline_params(ref, inputs.params) if ref is not None else None))
        for binding, params in runs:
            try:
                patched = self._run({**base, "params": params}, deduced=True)
            except _Failed:
                outcome = None  # Kyverno's CLI drops the response of a failed mutation
                continue
            props = {"binding": binding.name} if binding is not None else {}
            if patched is None:
                outcome = (RuleResponse(self.name, RULE_TYPE, Status.SKIP, UNMET, props), obj)
            else:
                outcome = (RuleResponse(self.name, RULE_TYPE, Status.PASS, APPLIED, props, patched_resource=patched),
                           patched)
        if outcome is not None:
            response.rules.append(outcome[0])
            response.patched_resource = outcome[1]
        else:
            response.patched_resource = obj
        return response

    # -- admission (the API server) ----------------------------------------------------------------------
    def _admission(self, request: Request, inputs: KindInputs, bindings: list[Binding]) -> PolicyResponse | None:
        if not bindings:
            return None
        namespace = _admission_namespace(request, inputs)
        if not self.match.matches(request, namespace):
            return None
        base = admission_inputs(request, namespace)
        current = request.resource or {}
        rules: list[RuleResponse] = []
        params_namespace = "" if request.kind == "Namespace" and not request.subresource else request.namespace
        for binding in bindings:
            if binding.match is not None and not binding.match.matches(request, namespace):
                continue
            props = {"binding": binding.name}
            try:
                found = self._admission_params(binding, inputs, params_namespace)
            except VernoError as exc:
                rules.append(self._failure(f"failed to configure binding: {exc}", props))
                continue
            for param in found:
                try:
                    patched = self._run({**base, "object": current, "params": param}, deduced=False)
                except _Failed as exc:
                    rules.append(self._failure(exc.message, props))
                    continue
                if patched is None:
                    rules.append(RuleResponse(self.name, RULE_TYPE, Status.SKIP, UNMET, props))
                    continue
                current = patched
                rules.append(RuleResponse(self.name, RULE_TYPE, Status.PASS, APPLIED, props,
                                          patched_resource=patched))
        if not rules:
            return None
        return PolicyResponse(self, request.resource, rules, patched_resource=current, operation=request.operation,
                              namespace_labels=dict(request.namespace_labels))

    def _failure(self, message: str, props: dict[str, str]) -> RuleResponse:
        if self.failure_policy == "Ignore":
            return RuleResponse(self.name, RULE_TYPE, Status.SKIP, message, props)
        return RuleResponse(self.name, RULE_TYPE, Status.ERROR, message, props)

    def _admission_params(self, binding: Binding, inputs: KindInputs, namespace: str) -> list[dict[str, Any] | None]:
        kind, ref = self.spec.param_kind, binding.spec.param_ref
        if kind is None or ref is None:
            return [None]
        sources = inputs.sources
        if inputs.params and sources.cluster is None:  # the run's params stand for the cluster's
            sources = dataclasses.replace(sources, params=list(inputs.params))
        try:
            found = collect_params(sources, kind, ref, namespace)
        except VernoError:
            if ref.name and ref.parameter_not_found_action != "Deny":
                return []  # a named param that does not exist: the binding is skipped (Allow)
            raise
        return list(found)


def _offline_params(ref: Any, params: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Kyverno's CLI: with a selector every param whose labels match (and namespace, when set) as a List,
    else the first param whose name (and namespace) matches; none: ``null``."""
    def selected(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {} if isinstance(obj, dict) else {}
        if ref.namespace and str(meta.get("namespace") or "") != ref.namespace:
            return False
        if ref.selector is not None:
            return compile_selector(ref.selector)(dict(meta.get("labels") or {}))
        return str(meta.get("name") or "") == ref.name

    if ref.selector is None:
        return next((p for p in params if selected(p)), None)
    items = [p for p in params if selected(p)]
    return {"items": items} if items else None


def _offline_namespace(request: Request, inputs: KindInputs) -> dict[str, Any] | None:
    """Kyverno's CLI: a Namespace named after the resource's namespace, with the labels the run gives it."""
    if request.kind == "Namespace" and request.api_version == "v1":
        return None
    name = request.namespace
    if not name:
        return None
    known = inputs.namespaces.get(name)
    labels = dict((known.get("metadata") or {}).get("labels") or {}) if known is not None \
        else dict(request.namespace_labels)
    return {"metadata": {"name": name, "labels": labels}}


def _admission_namespace(request: Request, inputs: KindInputs) -> dict[str, Any] | None:
    if request.kind == "Namespace" and not request.subresource or not request.namespace:
        return None
    known = inputs.namespaces.get(request.namespace)
    if known is not None:
        return dict(known)
    labels = dict(request.namespace_labels) or {NAME_LABEL: request.namespace}
    return {"metadata": {"name": request.namespace, "labels": labels}}


def load_policy(doc: Document, engine: Any) -> MutatingAdmissionPolicy:
    """The loader of the MutatingAdmissionPolicy kind: the document checked and its expressions compiled."""
    model = validate_model(models.MutatingAdmissionPolicy, doc)
    name = model.metadata.name
    if not name:
        raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
    compiled = compile_policy(doc, name, model.spec, engine)
    raw = (doc.data.get("spec") or {}).get("matchConstraints") or {}
    return MutatingAdmissionPolicy(name, model.api_version, doc.source, model.spec, compiled, MatchResources(raw),
                                   dict(model.metadata.annotations), document=doc.data)
