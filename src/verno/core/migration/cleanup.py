"""Kyverno's CleanupPolicy and ClusterCleanupPolicy (``kyverno.io/v2``) as DeletingPolicies.

``match``/``exclude`` become ``matchConstraints`` and match conditions (every operation: a scheduled deletion
is no admission request), the ``conditions`` (over ``{{ target.* }}``, the object considered for deletion)
become one CEL condition over ``object``, ``schedule`` and ``deletionPropagationPolicy`` are kept. Context
entries are left untranslated with the reason, as is a match that has no CEL form.
"""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import Field

from verno.core.loading import Document, validate_model
from verno.core.migration.errors import Untranslatable
from verno.core.migration.expressions import Scope, condition_block
from verno.core.migration.match import translate_match
from verno.core.migration.model import Migration
from verno.core.models.base import Metadata, Model
from verno.core.models.conditions import Conditions
from verno.core.models.context import ContextEntry
from verno.core.models.match import MatchResources

__all__ = ["CLEANUP_KINDS", "is_cleanup_policy", "migrate_cleanup_policy"]

CLEANUP_KINDS = ("CleanupPolicy", "ClusterCleanupPolicy")
_VERSIONS = ("kyverno.io/v2", "kyverno.io/v2beta1", "kyverno.io/v2alpha1")


class CleanupSpec(Model):
    match: MatchResources
    exclude: MatchResources | None = None
    conditions: Conditions | None = None
    context: list[ContextEntry] = []
    schedule: str = Field(min_length=1)
    deletion_propagation_policy: Literal["Foreground", "Background", "Orphan"] | None = None


class CleanupPolicy(Model):
    api_version: Literal["kyverno.io/v2", "kyverno.io/v2beta1", "kyverno.io/v2alpha1"]
    kind: Literal["CleanupPolicy", "ClusterCleanupPolicy"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: CleanupSpec


#: what a match condition reads of the admission request, read from the object instead (a DeletingPolicy
#: has no request)
_FROM_OBJECT = {"request.name": "object.metadata.name",
                "request.namespace": "(has(object.metadata.namespace) ? object.metadata.namespace : \"\")"}


def _on_object(expression: str) -> str:
    for name, replacement in _FROM_OBJECT.items():
        expression = re.sub(rf"\b{re.escape(name)}\b", replacement, expression)
    if re.search(r"\brequest\.", expression):
        raise Untranslatable("a match or exclude reading more of the request than the object's name and namespace "
                             "(several kind filters, operations or subjects): a DeletingPolicy sees no request")
    return expression


def is_cleanup_policy(data: Any) -> bool:
    return isinstance(data, dict) and data.get("apiVersion") in _VERSIONS and data.get("kind") in CLEANUP_KINDS


def migrate_cleanup_policy(doc: Document) -> Migration:
    """The DeletingPolicy of one cleanup policy document (a LoadError names the field it cannot read)."""
    policy = validate_model(CleanupPolicy, doc)
    name = str(policy.metadata.name or "")
    out = Migration(doc.source, name)
    try:
        if policy.spec.context:
            raise Untranslatable("context entries of a cleanup policy (no translation yet)")
        match = translate_match(SimpleNamespace(match=policy.spec.match, exclude=policy.spec.exclude), ["*"])
        conditions = [{"name": n, "expression": _on_object(e)} for n, e in match.conditions]
        if policy.spec.conditions is not None:
            conditions.append({"name": "conditions",
                               "expression": condition_block(policy.spec.conditions, Scope({"target": "object"}))})
    except Untranslatable as exc:
        out.untranslated.append((name, str(exc)))
        return out
    spec: dict[str, Any] = {"matchConstraints": match.constraints, "schedule": policy.spec.schedule}
    if conditions:
        spec["conditions"] = conditions
    if policy.spec.deletion_propagation_policy:
        spec["deletionPropagationPolicy"] = policy.spec.deletion_propagation_policy
    metadata: dict[str, Any] = {"name": name}
    namespaced = policy.kind == "CleanupPolicy"
    if namespaced:
        metadata["namespace"] = policy.metadata.namespace or "default"
    out.documents.append({"apiVersion": "policies.kyverno.io/v1",
                          "kind": "NamespacedDeletingPolicy" if namespaced else "DeletingPolicy",
                          "metadata": metadata, "spec": spec})
    out.names[name] = name
    return out
