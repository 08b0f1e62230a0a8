"""The built-in rule translations of ``verno migrate`` (the ``migrate-rules`` plugin): ``validate`` rules
(pattern, anyPattern, deny, cel, foreach) to ValidatingPolicies, ``mutate`` rules to MutatingPolicies,
``generate`` rules (data, clone) to GeneratingPolicies and ``verifyImages`` rules to ImageValidatingPolicies
(``verify_images.py``). What is not translated is reported with the reason."""
from __future__ import annotations

import json
from typing import Any

from verno.core.hookspecs import hookimpl
from verno.core.kinds import kind_entries
from verno.core.migration.context import translate_context
from verno.core.migration.expressions import (
    Scope, Untranslatable, condition_block, message_fields, value_expression,
)
from verno.core.migration.foreach import validate_foreach
from verno.core.migration.model import RuleMigration
from verno.core.migration.mutate_existing import check_patch_reads_only_the_target, target_selection
from verno.core.migration.mutate_foreach import mutate_foreach
from verno.core.migration.pattern import translate_pattern
from verno.core.migration.verify_images import verify_images

__all__ = ["verno_migrate_rule"]


def _failure_action(policy: Any, rule: Any) -> str:
    return rule.validate_.failure_action or policy.spec.validation_failure_action


def _preconditions(rule: Any, scope: Scope | None = None) -> list[tuple[str, str]]:
    conds: list[tuple[str, str]] = []
    if rule.preconditions is not None:
        conds.append(("preconditions", condition_block(rule.preconditions, scope)))
    for c in rule.cel_preconditions or []:
        conds.append((c.name, c.expression))
    return conds


def _validate(policy: Any, rule: Any, scope: Scope, conditions_scope: Scope) -> RuleMigration:
    v = rule.validate_
    for what, present in (("podSecurity", v.pod_security), ("manifests", v.manifests), ("assert", v.assert_)):
        if present:
            raise Untranslatable(f"validate.{what} (no CEL translation yet)")
    if v.failure_action_overrides or policy.spec.validation_failure_action_overrides:
        raise Untranslatable("validationFailureActionOverrides (a ValidatingPolicy has one set of actions)")
    message = message_fields(v.message, scope)
    conditions = _preconditions(rule, conditions_scope)
    spec: dict[str, Any] = {}
    if v.pattern is not None:
        expression, anchors = translate_pattern(v.pattern)
        conditions += [(f"anchor-{i}", c) for i, c in enumerate(anchors)]
        spec["validations"] = [{"expression": expression, **message}]
    elif v.any_pattern is not None:
        parts = []
        for pattern in v.any_pattern:
            expression, anchors = translate_pattern(pattern)
            if anchors:
                raise Untranslatable("conditional or global anchors at the top of an anyPattern entry")
            parts.append(expression)
        spec["validations"] = [{"expression": " || ".join(parts) or "false", **message}]
    elif v.deny is not None:
        deny = condition_block(v.deny.conditions, scope) if v.deny.conditions is not None else "true"
        spec["validations"] = [{"expression": f"!({deny})", **message}]
    elif v.foreach is not None:
        expression, applies = validate_foreach(v.foreach, scope, conditions_scope)
        conditions.append(("foreach-applies", applies))
        spec["validations"] = [{"expression": expression, **message}]
    elif v.cel is not None:
        if rule.context:
            raise Untranslatable("validate.cel with context entries")
        if v.cel.param_kind is not None:
            raise Untranslatable("validate.cel with paramKind (a ValidatingPolicy has no params)")
        validations = []
        for e in v.cel.expressions:
            item: dict[str, Any] = {"expression": e.expression}
            if e.message_expression:
                item["messageExpression"] = e.message_expression
            elif e.message or v.message:
                item["message"] = e.message or v.message
            validations.append(item)
        spec["validations"] = validations
        if v.cel.variables:
            spec["variables"] = [{"name": x.name, "expression": x.expression} for x in v.cel.variables]
        if v.cel.audit_annotations:
            spec["auditAnnotations"] = [{"key": a.key, "valueExpression": a.value_expression}
                                        for a in v.cel.audit_annotations]
    else:
        raise Untranslatable("a validate rule without pattern, anyPattern, deny or cel")
    action = _failure_action(policy, rule)
    spec["validationActions"] = ["Deny"] if action == "Enforce" else ["Audit"]
    if policy.spec.failure_policy:
        spec["failurePolicy"] = policy.spec.failure_policy
    if not policy.spec.background:
        spec["evaluation"] = {"background": {"enabled": False}}
    return RuleMigration("ValidatingPolicy", spec, conditions)


def _generate(policy: Any, rule: Any, scope: Scope, conditions_scope: Scope) -> RuleMigration:
    g = rule.generate
    if g.foreach or g.clone_list is not None:
        raise Untranslatable("generate.foreach and generate.cloneList (no CEL translation yet)")
    if not g.kind or not g.name:
        raise Untranslatable("a generate rule without kind and name")
    namespace = value_expression(g.namespace, scope) if g.namespace else '""'
    if g.data is not None:
        obj = {"apiVersion": g.api_version, "kind": g.kind, "metadata": {"name": g.name}}
        data = dict(g.data) if isinstance(g.data, dict) else {}
        meta = dict(data.pop("metadata", None) or {})
        obj["metadata"] = {**meta, "name": g.name}
        obj.update(data)
        item = value_expression(obj, scope)
    elif g.clone is not None:
        if g.clone.name != g.name or "{{" in (g.clone.namespace + g.clone.name):
            raise Untranslatable("a clone whose target name differs from its source's, or with variables")
        group, version, resource, _ = kind_entries(f"{g.api_version}/{g.kind}" if g.api_version else g.kind)
        api_version = f"{group}/{version}" if group else version
        item = (f"resource.Get({json.dumps(api_version)}, {json.dumps(resource)}, {json.dumps(g.clone.namespace)}, "
                f"{json.dumps(g.clone.name)})")
    else:
        raise Untranslatable("a generate rule without data or clone")
    evaluation: dict[str, Any] = {}
    if g.synchronize:
        evaluation["synchronize"] = {"enabled": True}
    if g.orphan_downstream_on_policy_delete:
        evaluation["orphanDownstreamOnPolicyDelete"] = {"enabled": True}
    existing = g.generate_existing if g.generate_existing is not None else policy.spec.generate_existing
    if existing:
        evaluation["generateExisting"] = {"enabled": True}
    spec: dict[str, Any] = {"generate": [{"expression": f"generator.Apply({namespace}, [{item}])"}]}
    if evaluation:
        spec["evaluation"] = evaluation
    return RuleMigration("GeneratingPolicy", spec, _preconditions(rule, conditions_scope),
                         default_operations=["CREATE", "UPDATE"])


_IDENT = __import__("re").compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _apply_configuration(value: Any, path: str, scope: Scope) -> str:
    """A strategic-merge patch value as an ``Object{...}`` apply configuration (maps with keys that are not
    field names, such as labels, stay map literals)."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise Untranslatable("a non-string key in a patch")
            if key.startswith("$") or (key[:2] in ("+(", "=(", "X(", "<(", "^(") or key.startswith("(")):
                raise Untranslatable(f"the patch key {key!r} (anchors and $patch directives have no "
                                     "ApplyConfiguration form)")
        if value and all(_IDENT.match(k) for k in value):
            fields = ", ".join(f"{k}: {_apply_configuration(v, f'{path}.{k}', scope)}" for k, v in value.items())
            return f"{path}{{{fields}}}"
        return "{" + ", ".join(f"{json.dumps(k)}: {_apply_configuration(v, path, scope)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_apply_configuration(v, path, scope) for v in value) + "]"
    if value is None:
        raise Untranslatable("a null in a patch (removing a field has no ApplyConfiguration form)")
    return value_expression(value, scope)


def _mutate(policy: Any, rule: Any, scope: Scope) -> RuleMigration:
    m = rule.mutate
    existing: tuple[dict[str, Any], list[dict[str, str]]] | None = None
    if m.targets:
        if m.foreach:
            raise Untranslatable("mutate.foreach over mutateExisting targets (no CEL translation yet)")
        check_patch_reads_only_the_target(m)
        existing = target_selection(policy, rule, scope)
    trigger_scope, scope = scope, (scope.child(target="object") if existing is not None else scope)
    mutations = []
    if m.foreach:
        if m.patch_strategic_merge is not None or m.patches_json6902:
            raise Untranslatable("a mutate rule with both foreach and a patch")
        mutations = mutate_foreach(m.foreach, scope)
    if m.patch_strategic_merge is not None:
        if not isinstance(m.patch_strategic_merge, dict):
            raise Untranslatable("a patchStrategicMerge that is not a map")
        expression = _apply_configuration(m.patch_strategic_merge, "Object", scope)
        mutations.append({"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": expression}})
    if m.patches_json6902:
        import yaml

        ops = yaml.safe_load(m.patches_json6902)
        if not isinstance(ops, list):
            raise Untranslatable("patchesJson6902 that is not a list of operations")
        items = []
        for op in ops:
            if not isinstance(op, dict) or "{{" in str(op.get("path", "")) + str(op.get("from", "")):
                raise Untranslatable("a JSON patch operation with a variable path")
            fields = [f"op: {json.dumps(str(op.get('op')))}", f"path: {json.dumps(str(op.get('path')))}"]
            if "from" in op:
                fields.append(f"from: {json.dumps(str(op['from']))}")
            if "value" in op:
                fields.append(f"value: {value_expression(op['value'], scope)}")
            items.append("JSONPatch{" + ", ".join(fields) + "}")
        mutations.append({"patchType": "JSONPatch", "jsonPatch": {"expression": "[" + ", ".join(items) + "]"}})
    if not mutations:
        raise Untranslatable("a mutate rule without patchStrategicMerge or patchesJson6902")
    spec: dict[str, Any] = {"mutations": mutations}
    if m.patch_strategic_merge is not None:
        # a strategic merge replaces lists without merge keys: server-side apply's replacement of atomic values
        spec["evaluation"] = {"useServerSideApply": True}
    if existing is not None:
        constraints, target_conditions = existing
        spec["targetMatchConstraints"] = constraints
        if target_conditions:
            spec["targetMatchConditions"] = target_conditions
        spec["evaluation"] = {**spec.get("evaluation", {}), "admission": {"enabled": False},
                              "mutateExisting": {"enabled": True}}
    if policy.spec.failure_policy:
        spec["failurePolicy"] = policy.spec.failure_policy
    return RuleMigration("MutatingPolicy", spec, _preconditions(rule, trigger_scope))  # variables bind before conditions


@hookimpl(trylast=True)
def verno_migrate_rule(policy: Any, rule: Any) -> RuleMigration | None:
    if rule.verify_images is not None:
        if rule.context or rule.preconditions is not None or rule.cel_preconditions:
            raise Untranslatable("verifyImages with context entries or preconditions (no translation yet)")
        return verify_images(policy, rule)
    if rule.validate_ is None and rule.generate is None and rule.mutate is None:
        return None
    variables, scope, conditions_scope = translate_context(rule, rule.context or [], Scope())
    if rule.validate_ is not None:
        out = _validate(policy, rule, scope, conditions_scope)
    elif rule.generate is not None:
        out = _generate(policy, rule, scope, conditions_scope)
    else:
        out = _mutate(policy, rule, scope)
    if variables:
        out.spec = {"variables": variables, **out.spec}
    return out
