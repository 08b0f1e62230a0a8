"""Kyverno's ``policies.kyverno.io`` GeneratingPolicy and NamespacedGeneratingPolicy, as a policy kind.

Registered through ``verno_register_policy_kinds`` (stage ``generating-policy``). :func:`load` checks the
spec as the API server would and compiles every expression once (templates' placeholders included);
``policies.kyverno.io`` PolicyExceptions are read beside them. Evaluation: :mod:`.policy`.
"""
from __future__ import annotations

from typing import Any

from verno.core.cel import CELError, VariableSet, environment_for
from verno.core.cel.exceptions import COMPANION
from verno.core.errors import LoadError
from verno.core.hookspecs import hookimpl
from verno.core.loading import Document, validate_model
from verno.core.matchresources import MatchResources
from verno.core.policykinds import PolicyKind
from verno.plugins.generatingpolicy.model import GROUP, KINDS, GeneratingPolicyDocument
from verno.plugins.generatingpolicy.policy import GeneratingPolicy, Step
from verno.plugins.generatingpolicy.template import TemplateError, parse_template

__all__ = ["load", "verno_register_policy_kinds"]


def _enabled(block: Any, default: bool) -> bool:
    return default if block is None or block.enabled is None else block.enabled


def load(doc: Document, engine: Any) -> GeneratingPolicy:
    """Read one GeneratingPolicy/NamespacedGeneratingPolicy document (a :data:`~verno.core.policykinds.Loader`)."""
    parsed = validate_model(GeneratingPolicyDocument, doc)
    name = parsed.metadata.name
    if not name:
        raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
    namespace = (parsed.metadata.namespace or "default") if parsed.kind == "NamespacedGeneratingPolicy" else ""
    spec = parsed.spec
    if not (spec.match_constraints and spec.match_constraints.resource_rules):
        raise LoadError(doc.source, "a GeneratingPolicy needs matchConstraints with at least one resourceRule "
                                    "(its triggers)", document=doc.index, field="spec.matchConstraints.resourceRules")
    env = engine.cel_environment(parsed.kind) if engine is not None else environment_for(parsed.kind)

    def fail(where: str, err: Exception) -> LoadError:
        return LoadError(doc.source, str(err), document=doc.index, field=f"spec.{where}")

    try:
        variables = VariableSet.compile(env, [(v.name, v.expression) for v in spec.variables], inline=True)
    except CELError as err:
        index = next((i for i, v in enumerate(spec.variables) if v.expression == err.expression),
                     len(spec.variables) - 1)
        raise fail(f"variables[{index}].expression", err) from None
    declared = VariableSet.compile(env, [(v.name, v.expression) for v in spec.variables]) \
        if spec.match_conditions and spec.variables else variables
    conditions = []
    for i, cond in enumerate(spec.match_conditions):
        try:
            conditions.append((cond.name, env.compile(cond.expression, expect=("bool",), variables=declared)))
        except CELError as err:
            raise fail(f"matchConditions[{i}].expression", err) from None
    steps = []
    for i, entry in enumerate(spec.generate):
        if entry.expression:
            try:
                steps.append(Step(program=env.compile(entry.expression, expect=("bool",), variables=variables)))
            except CELError as err:
                raise fail(f"generate[{i}].expression", err) from None
            continue
        template = entry.template
        try:
            steps.append(Step(template=parse_template(
                template.value, lambda e: env.compile(e, variables=variables),  # type: ignore[union-attr]
                (template.interpolate or "none") == "cel")))  # type: ignore[union-attr]
        except (CELError, TemplateError) as err:
            raise fail(f"generate[{i}].template.value", err) from None
    audit = []
    for i, a in enumerate(spec.audit_annotations):
        try:
            audit.append((a.key, env.compile(a.value_expression, expect=("string", "null"), variables=variables)))
        except CELError as err:
            raise fail(f"auditAnnotations[{i}].valueExpression", err) from None
    evaluation = spec.evaluation
    return GeneratingPolicy(
        kind=parsed.kind, api_version=parsed.api_version, name=name, namespace=namespace, source=doc.source,
        annotations=dict(parsed.metadata.annotations), env=env,
        match=MatchResources((doc.data.get("spec") or {}).get("matchConstraints")), conditions=conditions,
        variables=variables, steps=steps, audit_annotations=audit,
        admission=_enabled(evaluation.admission if evaluation else None, True),
        synchronize=_enabled(evaluation.synchronize if evaluation else None, False),
        generate_existing=_enabled(evaluation.generate_existing if evaluation else None, False),
        orphan_downstream=_enabled(evaluation.orphan_downstream_on_policy_delete if evaluation else None, False),
        skip_background_requests=evaluation.skip_background_requests is not False if evaluation else True,
        server_side_apply=spec.use_server_side_apply, document=doc.data)


@hookimpl
def verno_register_policy_kinds(register: Any) -> None:
    register(PolicyKind(GROUP, frozenset(KINDS), "generating-policy", load, companions=frozenset({COMPANION})))
