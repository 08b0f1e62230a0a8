"""Kyverno's ``policies.kyverno.io`` DeletingPolicy and NamespacedDeletingPolicy, as a policy kind.

Registered through ``verno_register_policy_kinds`` (stage ``deleting-policy``, last: on the resource as given).
:func:`load` checks the spec as the API server would (the ``schedule`` a cron expression) and compiles
every expression once; ``policies.kyverno.io`` PolicyExceptions are read beside them. Evaluation, which
says whether a resource would be deleted: :mod:`.policy`. It is never an admission policy.
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
from verno.plugins.deletingpolicy.model import GROUP, KINDS, DeletingPolicyDocument
from verno.plugins.deletingpolicy.policy import DeletingPolicy

__all__ = ["load", "verno_register_policy_kinds"]


def _all_operations(constraints: dict[str, Any]) -> dict[str, Any]:
    """The constraints with every rule's operations ``*``: a scheduled deletion is no admission request."""
    out = dict(constraints)
    for key in ("resourceRules", "excludeResourceRules"):
        if out.get(key):
            out[key] = [{**rule, "operations": ["*"]} for rule in out[key]]
    return out


def load(doc: Document, engine: Any) -> DeletingPolicy:
    """Read one DeletingPolicy/NamespacedDeletingPolicy document (a :data:`~verno.core.policykinds.Loader`)."""
    parsed = validate_model(DeletingPolicyDocument, doc)
    name = parsed.metadata.name
    if not name:
        raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
    namespace = ""
    if parsed.kind == "NamespacedDeletingPolicy":
        namespace = parsed.metadata.namespace or "default"
    spec = parsed.spec
    # one environment per kind and engine: the compile cache is shared by every policy of the kind
    env = engine.cel_environment(parsed.kind) if engine is not None else environment_for(parsed.kind)
    try:
        variables = VariableSet.compile(env, [(v.name, v.expression) for v in spec.variables], inline=True)
    except CELError as err:
        index = next((i for i, v in enumerate(spec.variables) if v.expression == err.expression),
                     len(spec.variables) - 1)
        raise LoadError(doc.source, str(err), document=doc.index,
                        field=f"spec.variables[{index}].expression") from None
    conditions = []
    for i, cond in enumerate(spec.conditions):
        try:
            conditions.append((cond.name, env.compile(cond.expression, expect=("bool",), variables=variables)))
        except CELError as err:
            raise LoadError(doc.source, str(err), document=doc.index,
                            field=f"spec.conditions[{i}].expression") from None
    constraints = (doc.data.get("spec") or {}).get("matchConstraints")
    return DeletingPolicy(
        kind=parsed.kind, api_version=parsed.api_version, name=name, namespace=namespace, source=doc.source,
        annotations=dict(parsed.metadata.annotations), env=env,
        match=MatchResources(_all_operations(constraints)) if constraints else None, conditions=conditions,
        variables=variables, schedule=spec.schedule, propagation=spec.deletion_propagation_policy or "",
        document=doc.data)


@hookimpl
def verno_register_policy_kinds(register: Any) -> None:
    register(PolicyKind(GROUP, frozenset(KINDS), "deleting-policy", load, companions=frozenset({COMPANION})))
