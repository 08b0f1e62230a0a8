"""Kyverno's ``policies.kyverno.io`` MutatingPolicy and NamespacedMutatingPolicy, as a policy kind.

Registered through ``verno_register_policy_kinds`` at stage ``mutating-policy``: documents of both kinds
(v1alpha1, v1beta1, v1) are loaded by :func:`load`, which checks the spec as the API server would and
compiles every expression once (a compile error is a load error naming the field, as Kyverno rejects the
policy): ApplyConfiguration expressions must give an ``Object``, JSONPatch expressions a
``list(JSONPatch)``. ``policies.kyverno.io`` PolicyExceptions are read beside them. Evaluation:
:mod:`.policy`.
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
from verno.plugins.mutatingpolicy.autogen import rewrite_for_controllers
from verno.plugins.mutatingpolicy.model import GROUP, KINDS, MutatingPolicyDocument, MutatingPolicySpec
from verno.plugins.mutatingpolicy.policy import CompiledSpec, MutatingPolicy, MutationProgram, Targets

__all__ = ["load", "verno_register_policy_kinds"]







def _is_map(output: str) -> bool:
    return output == "dyn" or output.upper().startswith("MAP<")


def _is_list(output: str) -> bool:
    return output == "dyn" or output.upper().startswith("LIST<")


class _Compiler:
    def __init__(self, doc: Document, env: Any, config: str, prefix: str = "spec"):
        self.doc, self.env, self.config, self.prefix = doc, env, config, prefix

    def fail(self, where: str, message: str) -> LoadError:
        what = f" (autogen {self.config})" if self.config else ""
        return LoadError(self.doc.source, f"{message}{what}", document=self.doc.index, field=f"{self.prefix}.{where}")

    def compile(self, where: str, expression: str, expect: tuple[str, ...], variables: Any) -> Any:
        try:
            return self.env.compile(expression, expect=expect, variables=variables)
        except CELError as err:
            raise self.fail(where, str(err)) from None

    def variables(self, spec: MutatingPolicySpec) -> VariableSet:
        try:
            return VariableSet.compile(self.env, [(v.name, v.expression) for v in spec.variables])
        except CELError as err:
            index = next((i for i, v in enumerate(spec.variables) if v.expression == err.expression),
                         len(spec.variables) - 1)
            raise self.fail(f"variables[{index}].expression", str(err)) from None

    def conditions(self, field: str, conditions: list[Any], variables: VariableSet) -> list[tuple[str, Any]]:
        return [(c.name, self.compile(f"{field}[{i}].expression", c.expression, ("bool",), variables))
                for i, c in enumerate(conditions)]

    def mutations(self, spec: MutatingPolicySpec, variables: VariableSet) -> list[MutationProgram]:
        out = []
        for i, m in enumerate(spec.mutations):
            if m.patch_type == "ApplyConfiguration":
                where = f"mutations[{i}].applyConfiguration.expression"
                program = self.compile(where, m.apply_configuration.expression, (), variables)  # type: ignore[union-attr]
                if not _is_map(program.output_type):
                    raise self.fail(where, f"compiling CEL expression `{program.source}`: the apply configuration "
                                           f"must evaluate to Object, got {program.output_type.lower()}")
            else:
                where = f"mutations[{i}].jsonPatch.expression"
                program = self.compile(where, m.json_patch.expression, (), variables)  # type: ignore[union-attr]
                if not _is_list(program.output_type):
                    raise self.fail(where, f"compiling CEL expression `{program.source}`: the JSON patch must "
                                           f"evaluate to list(JSONPatch), got {program.output_type.lower()}")
            out.append(MutationProgram(m.patch_type, program))
        return out

    def spec(self, spec: MutatingPolicySpec, raw: dict[str, Any]) -> CompiledSpec:
        variables = self.variables(spec)
        conditions = self.conditions("matchConditions", spec.match_conditions, variables)
        mutations = self.mutations(spec, variables)
        audit = [(a.key, self.compile(f"auditAnnotations[{i}].valueExpression", a.value_expression,
                                      ("string", "null"), variables))
                 for i, a in enumerate(spec.audit_annotations)]
        constraints = raw.get("matchConstraints")
        match = MatchResources(constraints) if constraints is not None else None
        return CompiledSpec(self.config, match, conditions, variables, mutations, audit)


def load(doc: Document, engine: Any) -> MutatingPolicy:
    """Read one MutatingPolicy/NamespacedMutatingPolicy document (a :data:`~verno.core.policykinds.Loader`)."""
    parsed = validate_model(MutatingPolicyDocument, doc)
    if parsed.kind == "NamespacedMutatingPolicy" and parsed.api_version.endswith("/v1alpha1"):
        raise LoadError(doc.source, "NamespacedMutatingPolicy is served as policies.kyverno.io/v1beta1 and v1 only",
                        document=doc.index, field="apiVersion")
    name = parsed.metadata.name
    if not name:
        raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
    namespace = parsed.metadata.namespace or "default" if parsed.kind == "NamespacedMutatingPolicy" else ""
    spec = parsed.spec
    if not (spec.match_constraints and spec.match_constraints.resource_rules):
        raise LoadError(doc.source, "a MutatingPolicy needs matchConstraints with at least one resourceRule "
                                    "(Kyverno rejects it otherwise)", document=doc.index,
                        field="spec.matchConstraints.resourceRules")
    if spec.evaluation and spec.evaluation.mode == "JSON":
        raise LoadError(doc.source, "a MutatingPolicy mutates Kubernetes objects only: evaluation mode JSON is "
                                    "not supported (use Kubernetes)", document=doc.index, field="spec.evaluation.mode")
    evaluation = spec.evaluation
    admission = evaluation.admission.enabled if evaluation and evaluation.admission else None
    background = evaluation.background.enabled if evaluation and evaluation.background else None
    existing = bool(evaluation and evaluation.mutate_existing and evaluation.mutate_existing.enabled)
    if admission is False and not existing:
        raise LoadError(doc.source, "admission and mutateExisting cannot both be disabled: the policy would never "
                                    "run", document=doc.index, field="spec.evaluation")
    raw_spec = doc.data.get("spec") or {}
    env = _environment(engine, parsed.kind)
    variants = [_Compiler(doc, env, "").spec(spec, raw_spec)]
    for config, variant_raw in rewrite_for_controllers(raw_spec, pod_controller_variants):
        variant_spec = MutatingPolicySpec.model_validate(variant_raw)
        variants.append(_Compiler(doc, env, config).spec(variant_spec, variant_raw))
    targets = None
    if existing:
        compiler = _Compiler(doc, env, "")
        variables = variants[0].variables
        target_spec = spec.target_match_constraints
        expression = None
        match = None
        if target_spec is not None and target_spec.resource_rules:
            raw_target = dict(raw_spec.get("targetMatchConstraints") or {})
            raw_target.pop("expression", None)
            match = MatchResources(raw_target)
        elif target_spec is not None and target_spec.expression:
            expression = compiler.compile("targetMatchConstraints.expression", target_spec.expression, (), variables)
            if not _is_map(expression.output_type):
                raise compiler.fail("targetMatchConstraints.expression",
                                    f"compiling CEL expression `{expression.source}`: the target expression must "
                                    f"evaluate to map(string, dyn), got {expression.output_type.lower()}")
        targets = Targets(match, expression,
                          compiler.conditions("targetMatchConditions", spec.target_match_conditions, variables))
    timeout = spec.webhook_configuration.timeout_seconds if spec.webhook_configuration else None
    return MutatingPolicy(
        kind=parsed.kind, api_version=parsed.api_version, name=name, namespace=namespace, source=doc.source,
        annotations=dict(parsed.metadata.annotations), failure_policy=spec.failure_policy or "Fail",
        admission=True if admission is None else admission, background=True if background is None else background,
        env=env, variants=variants, simple_constraints=simple_constraints(raw_spec.get("matchConstraints")),
        reinvocation_policy=spec.reinvocation_policy or "Never",
        replace_atomic=bool(evaluation and evaluation.use_server_side_apply), mutate_existing=targets,
        timeout_seconds=timeout or 10, spec=spec, document=doc.data)


@hookimpl
def verno_register_policy_kinds(register: Any) -> None:
    register(PolicyKind(GROUP, frozenset(KINDS), "mutating-policy", load, companions=frozenset({COMPANION})))


def _environment(engine: Any, kind: str) -> Any:
    """The kind's environment over the engine's CEL libraries (one per engine and kind: a shared compile
    cache); without an engine, over the built-in libraries."""
    return engine.cel_environment(kind) if engine is not None else environment_for(kind)
