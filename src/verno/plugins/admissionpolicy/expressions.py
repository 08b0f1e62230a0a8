"""A ValidatingAdmissionPolicy's CEL expressions, compiled once when the policy is loaded.

Kubernetes compiles every expression of the policy in one environment (``object``, ``oldObject``,
``request``, ``namespaceObject``, ``variables``, and ``params`` when the policy has a ``paramKind``);
the output types are checked exactly: validations and match conditions ``bool``, message expressions
``string``, audit annotation values ``string`` or ``null``. Variables may be read by every later
expression, match conditions included. A compile error is a load error naming the policy and the field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verno.core.cel import CELCompileError, Program, VariableSet, environment_for
from verno.core.cel.syntax import parse

from verno.plugins.admissionpolicy.models import PolicySpec

_ENVIRONMENTS: dict[int, tuple[Any, Any]] = {}


def environment(engine: Any):
    """The ValidatingAdmissionPolicy environment over the engine's CEL libraries (one per registry)."""
    registry = getattr(engine, "cel_libraries", None)
    entry = _ENVIRONMENTS.get(id(registry))
    if entry is None or entry[0] is not registry:
        entry = (registry, environment_for("ValidatingAdmissionPolicy", registry))
        _ENVIRONMENTS[id(registry)] = entry
    return entry[1]


class ExpressionError(Exception):
    """A compile error of one expression: ``field`` is its path in the document."""

    def __init__(self, field: str, error: CELCompileError):
        self.field = field
        self.error = error
        super().__init__(str(error))


@dataclass
class Validation:
    index: int
    source: str
    program: Program
    message: str
    message_program: Program | None
    reason: str


@dataclass
class Annotation:
    key: str
    source: str
    program: Program


@dataclass
class CompiledPolicy:
    variables: VariableSet
    conditions: list[tuple[str, Program]]
    validations: list[Validation]
    annotations: list[Annotation]


def _identifiers(expression: str) -> set[str]:
    return {node.value for node in parse(expression).walk() if node.kind == "ident"}


def _check_names(field: str, expression: str, has_params: bool, authorizer: bool = True) -> None:
    try:
        names = _identifiers(expression) if isinstance(expression, str) else set()
    except Exception as exc:  # the syntax tree reader rejects what the runtime would too
        raise ExpressionError(field, CELCompileError(str(expression), f"syntax error: {exc}")) from None
    if "params" in names and not has_params:
        raise ExpressionError(field, CELCompileError(
            expression, "undeclared reference to 'params' (the policy has no paramKind)"))
    if "authorizer" in names and not authorizer:  # Kubernetes: not in messageExpression
        raise ExpressionError(field, CELCompileError(
            expression, "undeclared reference to 'authorizer' (a messageExpression cannot use the authorizer)"))


def _compile(env, field: str, expression: str, expect: tuple[str, ...], variables: VariableSet | None,
             has_params: bool, authorizer: bool = True) -> Program:
    _check_names(field, expression, has_params, authorizer)
    try:
        return env.compile(expression, expect=expect, variables=variables)
    except CELCompileError as exc:
        raise ExpressionError(field, exc) from None


def compile_policy(spec: PolicySpec, engine: Any) -> CompiledPolicy:
    env = environment(engine)
    has_params = spec.param_kind is not None
    pairs = [(var.name, var.expression) for var in spec.variables]
    for i, (_, expression) in enumerate(pairs):
        _check_names(f"spec.variables[{i}].expression", expression, has_params)
    try:
        variables = VariableSet.compile(env, pairs)
    except CELCompileError as exc:
        index = next((i for i, (_, e) in enumerate(pairs) if e == exc.expression), 0)
        raise ExpressionError(f"spec.variables[{index}].expression", exc) from None
    conditions = [(c.name, _compile(env, f"spec.matchConditions[{i}].expression", c.expression, ("bool",),
                                    variables, has_params))
                  for i, c in enumerate(spec.match_conditions)]
    validations = []
    for i, v in enumerate(spec.validations):
        program = _compile(env, f"spec.validations[{i}].expression", v.expression, ("bool",), variables, has_params)
        message_program = None
        if v.message_expression:
            message_program = _compile(env, f"spec.validations[{i}].messageExpression", v.message_expression,
                                       ("string",), variables, has_params, authorizer=False)
        validations.append(Validation(i, v.expression, program, v.message, message_program, v.reason or ""))
    annotations = [Annotation(a.key, a.value_expression,
                              _compile(env, f"spec.auditAnnotations[{i}].valueExpression", a.value_expression,
                                       ("string", "null"), variables, has_params))
                   for i, a in enumerate(spec.audit_annotations)]
    return CompiledPolicy(variables, conditions, validations, annotations)
