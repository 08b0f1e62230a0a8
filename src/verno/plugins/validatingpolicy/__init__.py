"""Kyverno's ``policies.kyverno.io`` ValidatingPolicy and NamespacedValidatingPolicy, as a policy kind.

Registered through ``verno_register_policy_kinds``: documents of both kinds (v1alpha1, v1beta1, v1) are
loaded by :func:`load`, which checks the spec as the API server would and compiles every expression once
(a compile error is a load error naming the field, as Kyverno rejects the policy). ``policies.kyverno.io``
PolicyExceptions are read beside them as companions. Evaluation: :mod:`.policy`; policies in evaluation
mode ``Envoy`` or ``HTTP`` (kyverno-authz) are compiled in their own environments and decided by
:mod:`.authz`.
"""
from __future__ import annotations

from typing import Any

from verno.core.cel import CELError, VariableSet, environment_for
from verno.core.cel.autogen import pod_controller_variants
from verno.core.cel.exceptions import COMPANION
from verno.core.errors import LoadError
from verno.core.hookspecs import hookimpl
from verno.core.loading import Document, validate_model
from verno.core.matchresources import MatchResources, simple_constraints
from verno.core.policykinds import PolicyKind
from verno.plugins.validatingpolicy.authz import AUTHZ_MODES, ENVIRONMENTS, check_output_type
from verno.plugins.validatingpolicy.model import GROUP, KINDS, ValidatingPolicyDocument, ValidatingPolicySpec
from verno.plugins.validatingpolicy.policy import CompiledSpec, ValidatingPolicy, ValidationProgram

__all__ = ["load", "verno_register_policy_kinds"]







def _compile(doc: Document, env: Any, spec: ValidatingPolicySpec, raw: dict[str, Any], config: str,
             mode: str, prefix: str = "spec") -> CompiledSpec:
    json_mode = mode != "Kubernetes"  # JSON, Envoy and HTTP: no resource matching, no audit annotations
    def fail(where: str, err: CELError) -> LoadError:
        what = f" (autogen {config})" if config else ""
        return LoadError(doc.source, f"{err}{what}", document=doc.index, field=f"{prefix}.{where}")

    try:
        variables = VariableSet.compile(env, [(v.name, v.expression) for v in spec.variables], inline=True)
    except CELError as err:
        names = [v.name for v in spec.variables]
        index = next((i for i, v in enumerate(spec.variables) if v.expression == err.expression), len(names) - 1)
        raise fail(f"variables[{index}].expression", err) from None
    conditions = []
    # match conditions type-check against the variables but never see their values (not written into them)
    declared = VariableSet.compile(env, [(v.name, v.expression) for v in spec.variables]) \
        if spec.match_conditions and spec.variables else variables
    for i, cond in enumerate(spec.match_conditions):
        try:
            conditions.append((cond.name, env.compile(cond.expression, expect=("bool",), variables=declared)))
        except CELError as err:
            raise fail(f"matchConditions[{i}].expression", err) from None
    validations = []
    for i, v in enumerate(spec.validations):
        try:
            program = env.compile(v.expression, expect=() if mode in AUTHZ_MODES else ("bool",),
                                  variables=variables)
        except CELError as err:
            raise fail(f"validations[{i}].expression", err) from None
        problem = check_output_type(mode, program.output_type) if mode in AUTHZ_MODES else ""
        if problem:
            raise LoadError(doc.source, f"compiling CEL expression `{v.expression}`: {problem}",
                            document=doc.index, field=f"{prefix}.validations[{i}].expression")
        message_program = None
        if v.message_expression:
            try:
                message_program = env.compile(v.message_expression, expect=("string",), variables=variables)
            except CELError as err:
                raise fail(f"validations[{i}].messageExpression", err) from None
        validations.append(ValidationProgram(program, v.message, message_program))
    audit = []
    if not json_mode:  # JSON mode does not compile audit annotations (Kyverno ignores them)
        for i, a in enumerate(spec.audit_annotations):
            try:
                audit.append((a.key, env.compile(a.value_expression, expect=("string", "null"), variables=variables)))
            except CELError as err:
                raise fail(f"auditAnnotations[{i}].valueExpression", err) from None
    constraints = raw.get("matchConstraints")
    match = MatchResources(constraints) if constraints is not None and not json_mode else None
    return CompiledSpec(config, match, conditions, variables, validations, audit)


def load(doc: Document, engine: Any) -> ValidatingPolicy:
    """Read one ValidatingPolicy/NamespacedValidatingPolicy document (a :data:`~verno.core.policykinds.Loader`)."""
    parsed = validate_model(ValidatingPolicyDocument, doc)
    if parsed.kind == "NamespacedValidatingPolicy" and parsed.api_version.endswith("/v1alpha1"):
        raise LoadError(doc.source, "NamespacedValidatingPolicy is served as policies.kyverno.io/v1beta1 and v1 "
                                    "only", document=doc.index, field="apiVersion")
    name = parsed.metadata.name
    if not name:
        raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
    namespace = parsed.metadata.namespace
    if parsed.kind == "NamespacedValidatingPolicy" and not namespace:
        namespace = "default"  # a namespaced object without a namespace is created in the default one
    if parsed.kind == "ValidatingPolicy":
        namespace = ""
    spec = parsed.spec
    evaluation = spec.evaluation
    mode = (evaluation.mode if evaluation else None) or "Kubernetes"
    raw_spec = doc.data.get("spec") or {}
    authz = mode in AUTHZ_MODES
    if mode == "Kubernetes" and not (spec.match_constraints and spec.match_constraints.resource_rules):
        raise LoadError(doc.source, "a policy in Kubernetes mode needs matchConstraints with at least one "
                                    "resourceRule (Kyverno rejects it otherwise; for JSON payloads set "
                                    "spec.evaluation.mode: JSON)", document=doc.index,
                        field="spec.matchConstraints.resourceRules")
    env = _environment(engine, ENVIRONMENTS[mode] if authz else parsed.kind)
    variants = [_compile(doc, env, spec, raw_spec, "", mode)]
    if mode == "Kubernetes":
        for config, variant_raw in pod_controller_variants(raw_spec):
            variant_spec = ValidatingPolicySpec.model_validate(variant_raw)
            variants.append(_compile(doc, env, variant_spec, variant_raw, config, mode))
    admission = evaluation.admission.enabled if evaluation and evaluation.admission else None
    background = evaluation.background.enabled if evaluation and evaluation.background else None
    if authz:  # an authorization policy decides requests to a service, never Kubernetes admission or scans
        admission = background = False
    timeout = spec.webhook_configuration.timeout_seconds if spec.webhook_configuration else None
    return ValidatingPolicy(
        kind=parsed.kind, api_version=parsed.api_version, name=name, namespace=namespace, source=doc.source,
        annotations=dict(parsed.metadata.annotations), failure_policy=spec.failure_policy or "Fail",
        validation_actions=frozenset(spec.validation_actions or ["Deny"]),
        admission=True if admission is None else admission, background=True if background is None else background,
        mode=mode, env=env, variants=variants, simple_constraints=simple_constraints(raw_spec.get("matchConstraints")),
        timeout_seconds=timeout or 10, spec=spec, document=doc.data)


@hookimpl
def verno_register_policy_kinds(register: Any) -> None:
    register(PolicyKind(GROUP, frozenset(KINDS), "validating-policy", load, companions=frozenset({COMPANION})))


def _environment(engine: Any, kind: str) -> Any:
    """The kind's environment over the engine's CEL libraries (one per engine and kind: a shared compile
    cache); without an engine, over the built-in libraries."""
    return engine.cel_environment(kind) if engine is not None else environment_for(kind)
