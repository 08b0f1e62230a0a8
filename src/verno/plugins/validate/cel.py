"""``validate.cel`` and ``celPreconditions`` of kyverno.io/v1 rules, evaluated as Kyverno evaluates them.

Kyverno hands these rules to Kubernetes' ValidatingAdmissionPolicy validator (K:
``pkg/engine/handlers/validation/validate_cel.go``), so they follow its rules:

* Expressions see ``object``, ``oldObject``, ``request``, ``namespaceObject``, ``variables``, ``authorizer``
  (not in message expressions) and ``params`` (only when the rule sets both ``paramKind`` and
  ``paramRef``). They are compiled once, when the policy is loaded; one that does not compile is an error
  naming the policy, the rule and the field.
* ``celPreconditions`` (the rule's match conditions): one false => the rule is skipped ("cel
  preconditions not met"); errors and no false => the rule fails with the errors.
* Every validation is evaluated; the first that is not true (false, or an error) fails the rule with
  its message: the ``messageExpression`` result (trimmed; not if empty, over 5 KiB or multi-line), else
  the expression's ``message``, else the rule's ``validate.message``, else ``failed expression: <expr>``.
  An evaluation error reads ``expression '<expr>' resulted in error: <error>``. (The validator's failure
  policy is Kubernetes' default, Fail, so an error denies like a false.)
* With params, the rule is validated once per parameter object; no object (a selector matching none)
  means nothing to validate: pass.
* ``namespaceObject`` is the object's Namespace, read from the cluster when verno runs against one, else
  one with only its name (as Kyverno's CLI builds it); null for cluster-scoped objects.
* Published audit annotations (non-empty strings) are added to the rule's properties.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from verno.core.cel import (
    KINDS,
    Activation,
    CELCostError,
    CELError,
    Environment,
    Program,
    VariableSet,
)
from verno.core.checks import PolicyCheckError
from verno.core.errors import VernoError
from verno.core.loaders.offline_cluster import guess_resource
from verno.core.params import ParamError, collect_params
from verno.core.results import RuleResponse, Status

#: the key of this plugin's compiled form in ``PreparedRule.compiled``
KEY = "validate.cel"
#: Kubernetes' MaxEvaluatedMessageExpressionSizeBytes
MAX_MESSAGE_BYTES = 5 * 1024
SKIPPED = "cel preconditions not met"
_NAMESPACE_META = ("name", "generateName", "namespace", "labels", "annotations", "uid", "creationTimestamp",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion",
                   "finalizers")


@dataclass(frozen=True)
class Check:
    """One of ``validate.cel.expressions``."""

    program: Program
    message: str
    message_program: Program | None


@dataclass(frozen=True)
class CompiledCEL:
    variables: VariableSet
    preconditions: tuple[Program, ...]
    checks: tuple[Check, ...]
    annotations: tuple[tuple[str, Program], ...]
    #: whether any expression reads ``namespaceObject`` (only then is the Namespace read from a cluster)
    reads_namespace: bool
    #: whether any expression reads ``authorizer`` (only then is the run's data bound for its checks)
    reads_authorizer: bool = False


_environments: dict[tuple[bool, bool], Environment] = {}
_lock = threading.Lock()


def environment(*, params: bool, authorizer: bool = True) -> Environment:
    """The environment of a validate.cel expression (one per combination, shared by every policy)."""
    key = (params, authorizer)
    env = _environments.get(key)
    if env is None:
        from verno.core.cel.libs import default_registry

        spec = KINDS["ClusterPolicy"]
        if params or not authorizer:
            spec = spec.variant(add={"params": "dyn"} if params else None,
                                drop=() if authorizer else ("authorizer",))
        with _lock:
            env = _environments.setdefault(key, Environment(spec, default_registry()))
    return env


def compile_rule(policy_name: str, rule: Any, rule_name: str) -> CompiledCEL | None:
    """The compiled form of a rule's ``validate.cel`` and ``celPreconditions`` (None for other rules)."""
    validation = rule.validate_
    if validation is None or validation.cel is None:
        return None
    cel = validation.cel
    where = f"policy {policy_name}: spec.rules[{rule_name}]"
    env = environment(params=cel.has_params)
    message_env = environment(params=cel.has_params, authorizer=False)

    def compiled(field: str, compile_one):
        try:
            return compile_one()
        except CELError as exc:
            raise PolicyCheckError(f"{where}.{field}: {exc}") from None

    try:
        variables = VariableSet.compile(env, [(v.name, v.expression) for v in cel.variables])
    except CELError as exc:
        index = next((i for i, v in enumerate(cel.variables) if v.expression == exc.expression), 0)
        raise PolicyCheckError(f"{where}.validate.cel.variables[{index}].expression: {exc}") from None
    preconditions = tuple(
        compiled(f"celPreconditions[{i}].expression",
                 lambda: env.compile(cond.expression, expect=("bool",), variables=variables))
        for i, cond in enumerate(rule.cel_preconditions or ()))
    checks = []
    for i, item in enumerate(cel.expressions):
        program = compiled(f"validate.cel.expressions[{i}].expression",
                           lambda: env.compile(item.expression, expect=("bool",), variables=variables))
        message_program = None
        if item.message_expression:
            message_program = compiled(
                f"validate.cel.expressions[{i}].messageExpression",
                lambda: message_env.compile(item.message_expression, expect=("string",), variables=variables))
        checks.append(Check(program, item.message or validation.message, message_program))
    annotations = tuple(
        (a.key, compiled(f"validate.cel.auditAnnotations[{i}].valueExpression",
                         lambda: env.compile(a.value_expression, expect=("string", "null"),
                                             variables=variables)))
        for i, a in enumerate(cel.audit_annotations))
    programs = [*variables.programs.values(), *preconditions, *(c.program for c in checks),
                *(c.message_program for c in checks if c.message_program), *(p for _, p in annotations)]
    names = {node.value for program in programs for node in program.tree.walk() if node.kind == "ident"}
    return CompiledCEL(variables, preconditions, tuple(checks), annotations, "namespaceObject" in names,
                       "authorizer" in names)


def prepare(policy: Any, rule: Any) -> None:
    """``verno_prepare_rule``: compile a validate.cel rule once, when its policy is loaded."""
    compiled = compile_rule(policy.name, rule.rule, rule.name)
    if compiled is not None:
        rule.compiled[KEY] = compiled


# -- evaluation ------------------------------------------------------------------------------------------

def validate_cel(rc: Any) -> RuleResponse:
    compiled = rc.rule.compiled.get(KEY)
    if compiled is None:  # a rule prepared without the engine's preparation hook
        compiled = compile_rule(rc.policy.name, rc.rule.rule, rc.rule.name)
        rc.rule.compiled[KEY] = compiled
    cel = rc.rule.rule.validate_.cel
    request = rc.request
    namespace = request.namespace
    if request.kind == "Namespace" and request.group == "" and request.version == "v1":
        namespace = ""
    try:
        namespace_object = _namespace_object(rc, namespace, compiled.reads_namespace)
    except VernoError as exc:
        return rc.response(Status.ERROR, f"Error getting the resource's namespace: {exc}")
    inputs: dict[str, Any] = {
        "object": request.resource or None,
        "oldObject": request.old_resource or None,
        "request": _admission_request(request, namespace),
        "namespaceObject": namespace_object,
    }
    if cel.has_params:
        try:
            all_params: list[Any] = collect_params(rc.sources, cel.param_kind, cel.param_ref, namespace)
        except (ParamError, VernoError) as exc:
            return rc.response(Status.ERROR, f"error in parameterized resource: {exc}")
    else:
        all_params = [None]
    if not compiled.reads_authorizer:
        return _validate(rc, compiled, inputs, all_params)
    from verno.core.cel.admission import authorizer_input
    from verno.core.cel.cluster_data import ClusterCelData
    from verno.core.cel.datasources import bound

    data = rc.sources.cel_data
    if data is None:  # made once per run, as the policy kinds' data is
        data = rc.sources.cel_data = ClusterCelData(egress=rc.sources.egress, egress_timeout=rc.sources.egress_timeout)
    with bound(data):
        return _validate(rc, compiled, {**inputs, "authorizer": authorizer_input(request)}, all_params)


def _validate(rc: Any, compiled: CompiledCEL, inputs: dict[str, Any], all_params: list[Any]) -> RuleResponse:
    cel = rc.rule.rule.validate_.cel
    properties: dict[str, str] = {}
    for params in all_params:
        bound = {**inputs, "params": params} if cel.has_params else inputs
        activation = Activation(bound, compiled.variables)
        met, failure = _preconditions(compiled, activation, rc.trace)
        if not met:
            return rc.response(Status.SKIP, SKIPPED)
        if failure is None:
            failure = _first_denial(compiled, activation, rc.trace)
            properties.update(_audit_annotations(compiled, activation))
        if failure is not None:
            return _with(rc.response(Status.FAIL, failure), properties)
    return _with(rc.response(Status.PASS, f"Validation rule '{rc.rule.name}' passed."), properties)


def _with(response: RuleResponse, properties: dict[str, str]) -> RuleResponse:
    if properties:
        response.properties = {**properties, **response.properties}
    return response


def _error_message(program: Program, exc: CELError, activation: Activation) -> str:
    detail = exc.detail
    for name in program.variables:  # a variable that failed: Kubernetes names it
        failed = activation.errors.get(name)
        if failed is not None and failed.detail == detail:
            detail = f'composited variable "{name}" fails to evaluate: {detail}'
            break
    return f"expression '{program.source}' resulted in error: {detail}"


def _record(trace: Any, field: str, program: Program, value: Any = None, error: str = "") -> None:
    if error:
        trace.add("cel", field=field, expression=program.source, error=error)
    else:
        trace.add("cel", field=field, expression=program.source, value=value)


def _preconditions(compiled: CompiledCEL, activation: Activation, trace: Any = None) -> tuple[bool, str | None]:
    """(met, failure): one false precondition => not met; otherwise errors (if any) fail the rule, as
    Kubernetes' match conditions under failure policy Fail do (one error alone, several as a list).
    ``trace``: record each expression and its value."""
    errors: list[str] = []
    for i, program in enumerate(compiled.preconditions):
        try:
            value = activation.evaluate(program)
        except CELError as exc:
            errors.append(_error_message(program, exc, activation))
            if trace is not None:
                _record(trace, f"celPreconditions[{i}]", program, error=errors[-1])
            continue
        if trace is not None:
            _record(trace, f"celPreconditions[{i}]", program, value)
        if value is False:
            return False, None
    if not errors:
        return True, None
    return True, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def _first_denial(compiled: CompiledCEL, activation: Activation, trace: Any = None) -> str | None:
    """The message of the first validation that is not true (every validation is evaluated).
    ``trace``: record each expression and its value."""
    denials: list[str] = []
    for i, check in enumerate(compiled.checks):
        try:
            value = activation.evaluate(check.program)
        except CELError as exc:
            denials.append(_error_message(check.program, exc, activation))
            if trace is not None:
                _record(trace, f"validate.cel.expressions[{i}]", check.program, error=denials[-1])
            continue
        if trace is not None:
            _record(trace, f"validate.cel.expressions[{i}]", check.program, value)
        if value is True:
            continue
        message = ""
        if check.message_program is not None:
            try:
                text = activation.evaluate(check.message_program)
            except CELCostError as exc:
                denials.append(f"failed messageExpression: {exc.detail}")
                continue
            except CELError:
                text = None  # Kubernetes logs it and falls back to the message
            if isinstance(text, str):
                text = text.strip()
                if len(text.encode()) <= MAX_MESSAGE_BYTES and "\n" not in text:
                    message = text
        message = message or check.message.strip() or f"failed expression: {check.program.source.strip()}"
        denials.append(message)
    return denials[0] if denials else None


def _audit_annotations(compiled: CompiledCEL, activation: Activation) -> dict[str, str]:
    """Published audit annotations: non-empty strings (null, empty and errors are not published)."""
    out: dict[str, str] = {}
    for key, program in compiled.annotations:
        try:
            value = activation.evaluate(program)
        except CELError:
            continue
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()
    return out


def _admission_request(request: Any, namespace: str) -> dict[str, Any]:
    """The ``request`` variable: Kubernetes' AdmissionRequest as its CEL environment types it."""
    kind = {"group": request.group, "version": request.version, "kind": request.kind}
    resource = {"group": request.group, "version": request.version, "resource": guess_resource(request.kind)}
    request_kind = kind
    if request.request_kind:
        group, version, name = request.request_kind
        request_kind = {"group": group, "version": version, "kind": name}
    user = request.user_info or {}
    meta = (request.resource or request.old_resource or {}).get("metadata") or {}
    return {
        "kind": kind, "resource": resource, "subResource": request.subresource,
        "requestKind": request_kind, "requestResource": resource, "requestSubResource": request.subresource,
        "name": str(meta.get("name") or ""), "namespace": namespace, "operation": request.operation,
        "userInfo": {"username": str(user.get("username") or ""), "uid": str(user.get("uid") or ""),
                     "groups": list(user.get("groups") or []), "extra": dict(user.get("extra") or {})},
        "dryRun": bool(request.dry_run), "options": None,
    }


def _namespace_object(rc: Any, namespace: str, needed: bool) -> dict[str, Any] | None:
    """The object's Namespace as Kubernetes exposes it to CEL; None for a cluster-scoped object."""
    if not namespace:
        return None
    cluster = rc.sources.cluster
    if not needed or cluster is None:
        return {"metadata": {"name": namespace, "creationTimestamp": None}, "spec": {}, "status": {}}
    found = cluster.raw_get(f"/api/v1/namespaces/{namespace}")
    if not isinstance(found, dict):
        raise VernoError(f'namespaces "{namespace}" not found')
    meta = found.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in _NAMESPACE_META if k in meta},
            "spec": found.get("spec") or {}, "status": found.get("status") or {}}
