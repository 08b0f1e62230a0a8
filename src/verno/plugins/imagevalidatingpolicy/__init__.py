"""Kyverno's ``policies.kyverno.io`` ImageValidatingPolicy and NamespacedImageValidatingPolicy, as a policy
kind (stage ``image-validating-policy``).

:func:`load` checks the spec as the API server would and compiles every expression once (the
``matchImageReferences`` expressions over ``ref``, the ``images`` extractors, match conditions, variables,
validations, audit annotations; autogen variants for Pod controllers). Evaluation: :mod:`.policy`. The
signature verification functions are :mod:`verno.core.cel.libs.kyverno_imageverify`'s.
"""
from __future__ import annotations

from typing import Any

from verno.core.cel import CELError, VariableSet, environment_for
from verno.core.cel.autogen import pod_controller_variants
from verno.core.cel.environment import KINDS as ENV_KINDS, Environment
from verno.core.cel.exceptions import COMPANION
from verno.core.errors import LoadError
from verno.core.hookspecs import hookimpl
from verno.core.loading import Document, validate_model
from verno.core.matchresources import MatchResources
from verno.core.policykinds import PolicyKind
from verno.plugins.imagevalidatingpolicy.attestors import expressions
from verno.plugins.imagevalidatingpolicy.model import (
    GROUP, KINDS, ImageValidatingPolicyDocument, ImageValidatingPolicySpec,
)
from verno.plugins.imagevalidatingpolicy.policy import ImageValidatingPolicy, Variant, finish, glob_check

__all__ = ["load", "verno_register_policy_kinds"]

_REF_ENVS: dict[int, Environment] = {}


def _ref_environment(engine: Any) -> Environment:
    """``matchImageReferences`` expressions: the sole variable ``ref`` (the image) over the kind's libraries."""
    registry = getattr(engine, "cel_libraries", None) if engine is not None else None
    env = _REF_ENVS.get(id(registry))
    if env is None:
        from verno.core.cel.libs import default_registry

        spec = ENV_KINDS["ImageValidatingPolicy"]
        spec = spec.variant(add={"ref": "string"}, drop=[k for k in spec.variables])
        env = _REF_ENVS[id(registry)] = Environment(spec, registry if registry is not None else default_registry())
    return env


def _variant(doc: Document, env: Any, spec: ImageValidatingPolicySpec, raw: dict[str, Any], config: str,
             json_mode: bool) -> Variant:
    def fail(where: str, err: CELError) -> LoadError:
        what = f" (autogen {config})" if config else ""
        return LoadError(doc.source, f"{err}{what}", document=doc.index, field=f"spec.{where}")

    try:
        variables = VariableSet.compile(env, [(v.name, v.expression) for v in spec.variables], inline=True)
    except CELError as err:
        index = next((i for i, v in enumerate(spec.variables) if v.expression == err.expression), 0)
        raise fail(f"variables[{index}].expression", err) from None
    conditions = []
    for i, cond in enumerate(spec.match_conditions):
        try:
            conditions.append((cond.name, env.compile(cond.expression, expect=("bool",))))
        except CELError as err:
            raise fail(f"matchConditions[{i}].expression", err) from None
    validations = []
    for i, v in enumerate(spec.validations):
        try:
            program = env.compile(v.expression, expect=("bool",), variables=variables)
            message = env.compile(v.message_expression, expect=("string",), variables=variables) \
                if v.message_expression else None
        except CELError as err:
            raise fail(f"validations[{i}].expression", err) from None
        validations.append((program, v.message, message))
    audit = []
    for i, a in enumerate(spec.audit_annotations):
        try:
            audit.append((a.key, env.compile(a.value_expression, expect=("string", "null"), variables=variables)))
        except CELError as err:
            raise fail(f"auditAnnotations[{i}].valueExpression", err) from None
    constraints = raw.get("matchConstraints")
    match = MatchResources(constraints) if constraints is not None and not json_mode else None
    return Variant(config, match, conditions, variables, validations, audit)


def load(doc: Document, engine: Any) -> ImageValidatingPolicy:
    """Read one ImageValidatingPolicy document (a :data:`~verno.core.policykinds.Loader`)."""
    parsed = validate_model(ImageValidatingPolicyDocument, doc)
    name = parsed.metadata.name
    if not name:
        raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
    namespace = (parsed.metadata.namespace or "default") if parsed.kind.startswith("Namespaced") else ""
    spec = parsed.spec
    mode = (spec.evaluation.mode if spec.evaluation else None) or "Kubernetes"
    raw = doc.data.get("spec") or {}
    if mode == "Kubernetes" and not (spec.match_constraints and spec.match_constraints.resource_rules):
        raise LoadError(doc.source, "a policy in Kubernetes mode needs matchConstraints with at least one "
                                    "resourceRule", document=doc.index, field="spec.matchConstraints.resourceRules")
    env = engine.cel_environment(parsed.kind) if engine is not None else environment_for(parsed.kind)
    variants = [_variant(doc, env, spec, raw, "", mode == "JSON")]
    if mode == "Kubernetes":
        for config, variant_raw in pod_controller_variants(raw):
            variant_spec = ImageValidatingPolicySpec.model_validate(variant_raw)
            variants.append(_variant(doc, env, variant_spec, variant_raw, config, False))
    references = []
    ref_env = _ref_environment(engine)
    for i, ref in enumerate(spec.match_image_references):
        if ref.glob:
            references.append(glob_check(ref.glob))
            continue
        try:
            program = ref_env.compile(ref.expression, expect=("bool",))
        except CELError as err:
            raise LoadError(doc.source, str(err), document=doc.index,
                            field=f"spec.matchImageReferences[{i}].expression") from None
        references.append(_expression_check(program))
    extractors = []
    variables = variants[0].variables
    for i, extractor in enumerate(spec.images):
        try:
            extractors.append((extractor.name, env.compile(extractor.expression, variables=variables)))
        except CELError as err:
            raise LoadError(doc.source, str(err), document=doc.index, field=f"spec.images[{i}].expression") from None
    attestor_programs: dict[str, list[tuple[str, tuple[str, ...], Any]]] = {}
    for i, attestor in enumerate(spec.attestors):
        raw_attestor = attestor.model_dump(by_alias=True, exclude_none=True)
        for where, path, expression in expressions(raw_attestor):
            try:
                program = env.compile(expression, variables=variables)
            except CELError as err:
                raise LoadError(doc.source, str(err), document=doc.index,
                                field=f"spec.attestors[{i}].{where}") from None
            attestor_programs.setdefault(attestor.name, []).append((where, path, program))
    config = spec.validation_configurations
    evaluation = spec.evaluation
    admission = evaluation.admission.enabled if evaluation and evaluation.admission else None
    background = evaluation.background.enabled if evaluation and evaluation.background else None
    timeout = spec.webhook_configuration.timeout_seconds if spec.webhook_configuration else None
    return ImageValidatingPolicy(
        kind=parsed.kind, api_version=parsed.api_version, name=name, namespace=namespace, source=doc.source,
        annotations=dict(parsed.metadata.annotations), env=env, variants=variants, extractors=extractors,
        references=references,
        attestors={a.name: a.model_dump(by_alias=True, exclude_none=True) for a in spec.attestors},
        attestations={a.name: a.name for a in spec.attestations},
        verify_digest=True if config is None or config.verify_digest is None else config.verify_digest,
        mutate_digest=True if config is None or config.mutate_digest is None else config.mutate_digest,
        required=True if config is None or config.required is None else config.required,
        attestor_programs=attestor_programs,
        attestation_specs={a.name: a.model_dump(by_alias=True, exclude_none=True) for a in spec.attestations},
        credentials=dict(spec.credentials) if spec.credentials else None,
        mode=mode, failure_policy=spec.failure_policy or "Fail",
        validation_actions=frozenset(spec.validation_actions or ["Deny"]),
        admission=True if admission is None else admission, background=True if background is None else background,
        timeout_seconds=timeout or 10, document=doc.data)


def _expression_check(program: Any):
    from verno.core.cel import Activation

    def check(image: str) -> bool:
        try:
            return program.evaluate(Activation({"ref": image})) is True
        except CELError:
            return False
    return check


@hookimpl
def verno_register_policy_kinds(register: Any) -> None:
    register(PolicyKind(GROUP, frozenset(KINDS), "image-validating-policy", load, companions=frozenset({COMPANION}),
                        finish=finish))
